#!/bin/sh
# The service image's entry point: before the command runs, warn when the model store cannot be written. /models is
# usually a host folder mounted over the image's own, owned by whoever made it on the host (root, when `docker run`
# created it), while the container runs as uid 10001.
store="${SUMMARIZER_MODELS_DIR:-/models}"
if [ ! -w "$store" ]; then
  echo "warning: the model store $store (SUMMARIZER_MODELS_DIR) is not writable by this container's user (uid" \
    "$(id -u)): the models cannot be downloaded into it, nor their CTranslate2 copies, the translation memory and" \
    "the job store kept there. Give the host folder to that user (sudo chown -R $(id -u) HOST_FOLDER), or run the" \
    "container as the folder's owner (docker run --user \"\$(id -u):\$(id -g)\" ...), or fill the store beforehand" \
    "and set SUMMARIZER_CACHE_DIR and SUMMARIZER_JOBS_DB to writable places." >&2
fi
exec "$@"
