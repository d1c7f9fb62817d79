# One image for every service; the command picks the service:
#   python -m intake serve | python -m invoicing serve | python -m appointments serve |
#   python -m reporting serve | python -m appointments.gateway serve
# and `python -m <service> migrate` runs its migrations as a separate step.
FROM python:3.11-slim AS build
ENV UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1 UV_PROJECT_ENVIRONMENT=/app/.venv
RUN pip install --no-cache-dir "uv==0.13.9"
WORKDIR /app
COPY pyproject.toml uv.lock ./
COPY libs ./libs
COPY services ./services
COPY platform ./platform
RUN uv sync --locked --no-dev --all-packages

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 agency
WORKDIR /app
COPY --from=build /app /app
ENV PATH="/app/.venv/bin:$PATH" PYTHONUNBUFFERED=1 AGENCY_ENVIRONMENT=production AGENCY_DATA_DIR=/data
RUN mkdir -p /data && chown agency /data
USER agency
EXPOSE 8001 8002 8003 8004 8005
CMD ["python", "-m", "intake", "serve"]
