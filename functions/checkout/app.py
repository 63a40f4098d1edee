"""The checkout capability alone, for AWS Lambda (`handler`) or any ASGI server (`app`)."""

from mangum import Mangum

from functions.asgi import build_app
from functions.checkout.routes import routes

app = build_app({"checkout": routes}, standalone=True, serve_static=False)
handler = Mangum(app, lifespan="off")
