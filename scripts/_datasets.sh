# Sourced by .ci/run and quickstart.sh: the real Fashion-MNIST files come from Debian's
# dataset-fashion-mnist package (the fashion-mnist task's offline source). Best effort: without
# root or apt the task falls back to the Hugging Face Hub, or says what to install.
if [ -d /usr/share/datasets/fashion-mnist ]; then
  :
elif command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  (apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && \
    apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1)) || echo "[kanformer] dataset-fashion-mnist not installed"
else
  echo "[kanformer] Fashion-MNIST is not installed locally (sudo apt-get install dataset-fashion-mnist); the Hub is used if reachable"
fi
