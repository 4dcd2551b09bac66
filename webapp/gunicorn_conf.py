"""How gunicorn serves the web app: `gunicorn -c python:webapp.gunicorn_conf webapp.wsgi`, used by
bin/serve and by the compose `web` service (behind nginx there, see deploy/nginx.conf).

Sync workers are held by any client that sends half a request and waits, so two such sockets froze
the site. gthread workers park a connection that sends nothing in a poller without a thread, and a
client that sends a partial request holds one thread of WEB_WORKERS x WEB_THREADS, not a whole
worker. A buffering proxy in front (nginx in docker-compose) is what shields the app completely.
"""

import os

bind = [f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"]
worker_class = "gthread"
workers = int(os.environ.get("WEB_WORKERS", 2))
threads = int(os.environ.get("WEB_THREADS", 32))
keepalive = 2  # seconds an idle kept-alive connection may stay open
timeout = 120  # a worker silent this long is restarted (a request takes seconds at most)
graceful_timeout = 20
