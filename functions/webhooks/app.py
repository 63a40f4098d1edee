"""The webhooks capability alone, for AWS Lambda (`handler`) or any ASGI server (`app`)."""

from mangum import Mangum

from functions.asgi import build_app
from functions.webhooks.routes import routes

app = build_app({"webhooks": routes}, standalone=True, serve_static=False)
handler = Mangum(app, lifespan="off")
