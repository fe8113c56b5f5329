"""The baseline the serving benchmark compares with: the server a tutorial writes, calling
`model.predict` once per request (in Starlette's thread pool, as a plain `def` endpoint of FastAPI runs).

    python benchmarks/naive_server.py RUN_DIR --port 8001
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def make_app(run_dir: str):
    import numpy as np
    import tensorflow as tf
    from PIL import Image
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from cnnbuild.builder.model.build import load_saved_model
    from cnnbuild.runs.record import RunRecord

    record = RunRecord.open(run_dir)
    model = load_saved_model(record.model_path)
    height, width = record.spec.data.image_size
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[model.input_shape[-1]]
    names = record.class_names

    def classify(body: bytes) -> dict:
        pixels = np.asarray(Image.open(io.BytesIO(body)).convert(mode), dtype="float32")
        if pixels.ndim == 2:
            pixels = pixels[..., None]
        x = tf.image.resize(pixels[None], (height, width)).numpy()
        probabilities = tf.nn.softmax(model.predict(x, verbose=0)).numpy()[0]
        best = int(probabilities.argmax())
        return {"class": names[best], "probability": float(probabilities[best])}

    async def predict(request):  # what FastAPI does with a plain `def` endpoint: the work in its thread pool
        from starlette.concurrency import run_in_threadpool

        return JSONResponse(await run_in_threadpool(classify, await request.body()))

    async def health(request):
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route("/predict", predict, methods=["POST"]), Route("/health", health)])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    import uvicorn

    uvicorn.run(make_app(args.run_dir), host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
