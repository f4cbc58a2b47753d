"""``motionkit serve``: live talking heads over WebSocket, video jobs over HTTP, and a web page (docs/serve.md).

Needs the ``serve`` extra (``pip install 'motionkit[serve]'``: FastAPI, uvicorn). One worker process serves one
device; :func:`motionkit.serve.app.create_app` builds the ASGI application for a :class:`~motionkit.pipeline.Pipeline`.
"""
