# Image for docker-compose.yml: the project with its locked environment.
FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends unixodbc tdsodbc make && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . /app
RUN scripts/bootstrap.sh
ENV PATH="/app/.venv/bin:${PATH}"
