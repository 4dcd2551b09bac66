"""How gunicorn serves the web app: `gunicorn -c python:webapp.gunicorn_conf webapp.wsgi`, used by
bin/serve (bin/serve-web) and by the compose `web` service, behind nginx in both (deploy/nginx.conf).

gthread workers park a connection that sends nothing in a poller without a thread, but a client that
sends a partial request holds one thread of WEB_WORKERS x WEB_THREADS until it finishes: gunicorn has
no timeout for reading a header, so 70 such clients held every thread. The buffering proxy in front is
what shields the app: it passes on whole requests only.
"""

import os

# WEB_BIND: bin/serve-web's unix socket, which only the proxy beside it reaches.
bind = [os.environ.get("WEB_BIND") or f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"]
worker_class = "gthread"
workers = int(os.environ.get("WEB_WORKERS", 2))
threads = int(os.environ.get("WEB_THREADS", 32))
keepalive = 2  # seconds an idle kept-alive connection may stay open
timeout = 120  # a worker silent this long is restarted (a request takes seconds at most)
graceful_timeout = 20
