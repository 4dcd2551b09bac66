# The cartesian Plotly bundle the pages load (bin/fetch-plotly: npm, pinned version and sha256).
FROM node:22-slim AS plotly
COPY bin/fetch-plotly /usr/local/bin/fetch-plotly
RUN fetch-plotly /plotly

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
# Web and workers run as this user, not root. The folders that docker-compose mounts volumes on are
# made here and owned by it: a fresh named volume copies the folder's owner, so the user can write there.
RUN useradd --create-home --uid 1000 app && mkdir -p /data/media /cache /app/var && chown app:app /data/media /cache /app/var
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
COPY --from=plotly /plotly/plotly.min.js var/vendor/plotly/plotly.min.js
RUN WEBAPP_MODE=production SECRET_KEY=build-only-collectstatic-key-not-used-at-run-time-0000 \
    python manage.py collectstatic --noinput -v 0
USER app
EXPOSE 8000
CMD ["gunicorn", "-c", "python:webapp.gunicorn_conf", "webapp.wsgi"]
