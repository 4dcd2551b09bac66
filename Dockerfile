FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
RUN WEBAPP_MODE=production SECRET_KEY=build-only-collectstatic-key-not-used-at-run-time-0000 \
    python manage.py collectstatic --noinput -v 0
EXPOSE 8000
CMD ["gunicorn", "-c", "python:webapp.gunicorn_conf", "webapp.wsgi"]
