"""The catalog capability alone, for AWS Lambda (`handler`) or any ASGI server (`app`).

Built once per cold start: the runtime, then the capability's routes only."""

from mangum import Mangum

from functions.asgi import build_app
from functions.catalog.routes import routes
from functions.runtime import build_portal

app = build_app({"catalog": routes}, portal=build_portal(), standalone=True, serve_static=False)
handler = Mangum(app, lifespan="off")
