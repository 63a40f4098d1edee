"""The messages capability alone, for AWS Lambda (`handler`) or any ASGI server (`app`)."""

from mangum import Mangum

from functions.asgi import build_app
from functions.messages.routes import routes

app = build_app({"messages": routes}, standalone=True, serve_static=False)
handler = Mangum(app, lifespan="off")
