"""The webhooks capability alone, for AWS Lambda (`handler`) or any ASGI server (`app`).

Built once per cold start: the runtime, then the capability's routes only."""

from mangum import Mangum

from functions.asgi import build_app
from functions.runtime import build_portal
from functions.webhooks.routes import routes

app = build_app({"webhooks": routes}, portal=build_portal(), standalone=True, serve_static=False)
handler = Mangum(app, lifespan="off")
