"""The web page at ``/`` (drop an image, see the top classes with bars: the labels present, the
values, or the mask overlaid on the image, by the model's task), the OpenAPI document
and the page at ``/docs`` that shows it. Self-contained: nothing is fetched from elsewhere."""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cnnbuild.contracts.tasks import Task

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__ - cnnbuild serve</title>
<style>
body{font:16px system-ui,sans-serif;max-width:44em;margin:2em auto;padding:0 1em;color:#222}
#drop{border:2px dashed #888;border-radius:10px;padding:2em;text-align:center}
#drop.over{background:#eef4ff;border-color:#36c}
.result{display:flex;gap:1em;align-items:flex-start;margin:1.2em 0}
.result img{width:96px;height:96px;object-fit:contain;image-rendering:pixelated;border:1px solid #ddd}
.row{display:grid;grid-template-columns:9em 1fr 4.5em;gap:.5em;align-items:center;margin:.25em 0}
.track{background:#eee;border-radius:3px;height:1.1em}.bar{background:#2a7;height:100%;border-radius:3px}
.error{color:#b00020}.muted{color:#666;font-size:.9em}.filename{font-weight:600;margin:0 0 .3em;overflow-wrap:anywhere}
.overlay{position:relative;width:192px;height:192px;flex:none;border:1px solid #ddd}
.overlay img{position:absolute;inset:0;width:100%;height:100%;object-fit:contain;image-rendering:pixelated;border:0}
.overlay img.mask{mix-blend-mode:screen;opacity:.85}.swatch{display:inline-block;width:.8em;height:.8em;margin-right:.3em;border:1px solid #999}
</style></head><body>
<h1>__TITLE__</h1>
<p class="muted">Predicts __PREDICTS__: __CLASSES__. Images are resized to __SIZE__ inside the model. <a href="docs">API</a></p>
<form id="form"><div id="drop"><p>Drop images here, or</p>
<input id="file" name="file" type="file" accept="image/*" multiple> <button type="submit">Classify</button></div></form>
<div id="results" aria-live="polite"></div>
<script>
const COLOURS = __COLOURS__;  // segmentation: each class's colour in the mask (class 0 black: the image shows through)
const CLASSES = __CLASS_NAMES__;  // the class names in index order (a reply's object would put names such as "10" and "2" in numeric order)
const drop = document.getElementById("drop"), input = document.getElementById("file"), results = document.getElementById("results");
function text(tag, cls, value) { const e = document.createElement(tag); if (cls) e.className = cls; e.textContent = value; return e; }
async function classify(files) {
  results.replaceChildren(text("p", "muted", "classifying..."));
  const body = new FormData();
  for (const f of files) body.append("file", f);
  let reply;
  try { const r = await fetch("predict?top_k=5", {method: "POST", body}); reply = await r.json(); if (!r.ok) throw new Error(reply.error.message); }
  catch (e) { results.replaceChildren(text("p", "error", e.message)); return; }
  results.replaceChildren();
  reply.predictions.forEach((p, i) => {
    const box = document.createElement("div"); box.className = "result";
    const img = document.createElement("img"); img.alt = p.filename; img.src = URL.createObjectURL(files[i]);
    const rows = document.createElement("div"); rows.style.flex = "1";
    rows.append(text("p", "filename", p.filename));
    if (p.mask) {  // segmentation: the mask overlaid on the image, and each class's share of the pixels
      const frame = document.createElement("div"); frame.className = "overlay";
      const mask = document.createElement("img"); mask.className = "mask"; mask.alt = "mask of " + p.filename; mask.src = "data:image/png;base64," + p.mask;
      frame.append(img, mask); box.append(frame);
      CLASSES.forEach((k, c) => {
        const v = p.classes[k];
        const row = document.createElement("div"); row.className = "row prediction";
        const name = text("span", "class", k); const swatch = text("span", "swatch", ""); swatch.style.background = COLOURS[c] || "#000"; name.prepend(swatch);
        const track = document.createElement("div"); track.className = "track";
        const bar = document.createElement("div"); bar.className = "bar"; bar.style.width = (100 * v).toFixed(1) + "%"; track.append(bar);
        row.append(name, track, text("span", "", (100 * v).toFixed(1) + "%")); rows.append(row);
      });
      rows.append(text("p", "muted", "share of the pixels of each class"));
      box.append(rows); results.append(box); return;
    }
    box.append(img);
    if (p.error) { rows.append(text("p", "error", p.error.message)); box.append(rows); results.append(box); return; }
    if (p.values) { for (const [k, v] of Object.entries(p.values)) rows.append(text("p", "prediction", k + ": " + v.toPrecision(4))); box.append(rows); results.append(box); return; }
    const present = new Set((p.labels || []).map(l => l.label));  // multi-label: every label, the present ones marked
    const top = p.top || Object.entries(p.probabilities).map(([k, v]) => ({class: (present.has(k) ? "\u2713 " : "") + k, probability: v}));
    for (const t of top) {
      const row = document.createElement("div"); row.className = "row prediction";
      const track = document.createElement("div"); track.className = "track";
      const bar = document.createElement("div"); bar.className = "bar"; bar.style.width = (100 * t.probability).toFixed(1) + "%"; track.append(bar);
      row.append(text("span", "class", t.class), track, text("span", "", (100 * t.probability).toFixed(1) + "%"));
      rows.append(row);
    }
    box.append(rows); results.append(box);
  });
}
document.getElementById("form").addEventListener("submit", e => { e.preventDefault(); if (input.files.length) classify([...input.files]); });
input.addEventListener("change", () => { if (input.files.length) classify([...input.files]); });
drop.addEventListener("dragover", e => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", e => { e.preventDefault(); drop.classList.remove("over"); classify([...e.dataTransfer.files]); });
</script></body></html>
"""


def index_page(title: str, class_names: list[str], size: tuple[int, int], task: Task, colours: list[str]) -> str:
    """The page for a model of ``task`` (what it predicts, its classes, labels or targets; ``colours``: a segmentation model's mask colours)."""
    shown = ", ".join(class_names[:12]) + (f" and {len(class_names) - 12} more" if len(class_names) > 12 else "")
    return (
        PAGE.replace("__TITLE__", html.escape(title)).replace("__PREDICTS__", html.escape(task.predicts)).replace("__CLASSES__", html.escape(shown))
        .replace("__SIZE__", f"{size[1]}x{size[0]}").replace("__COLOURS__", json.dumps(colours)).replace("__CLASS_NAMES__", _script_json(class_names))
    )  # fmt: skip


def _script_json(value: Any) -> str:
    """``value`` as JSON safe inside a <script> element (no ``</script>`` or ``<!--`` can close it)."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def openapi(title: str, version: str) -> dict[str, Any]:
    """The service's OpenAPI 3.1 document."""
    image = {"type": "string", "format": "binary"}
    top = {"type": "array", "items": {"type": "object", "properties": {"class": {"type": "string"}, "probability": {"type": "number"}}}}
    error = {"type": "object", "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "status": {"type": "integer"}}}
    numbers = {"type": "object", "additionalProperties": {"type": "number"}}
    labels = {"type": "array", "items": {"type": "object", "properties": {"label": {"type": "string"}, "probability": {"type": "number"}}}}
    prediction = {"type": "object", "properties": {
        "filename": {"type": "string"}, "top": top, "probabilities": numbers, "error": error,
        "labels": {**labels, "description": "multi-label: the labels at or above their thresholds, most probable first"},
        "values": {**numbers, "description": "regression: each target's value, in its original units"},
        "mask": {"type": "string", "contentEncoding": "base64", "contentMediaType": "image/png", "description": "segmentation: a palette PNG whose pixel values are class indices, at the image's size as decoded"},
        "mask_size": {"type": "array", "items": {"type": "integer"}, "description": "segmentation: the mask's [height, width]"},
        "classes": {**numbers, "description": "segmentation: each class's share of the mask's pixels"},
    }}  # fmt: skip
    errors = {"400": _error("not an image, an empty body or file, a truncated image, a malformed multipart body; format=png for a model that gives no mask, or for several files"),
              "413": _error("the body or an image is over the limits"), "503": _error("no room in the memory budget now: try again after Retry-After seconds"), "415": _error("a Content-Type other than multipart/form-data, image/* or application/octet-stream")}  # fmt: skip
    return {
        "openapi": "3.1.0",
        "info": {"title": f"{title} (cnnbuild serve)", "version": version},
        "paths": {
            "/predict": {"post": {
                "summary": "Class probabilities (labels, values, or a mask) for one or more images (any size; resized inside the model)",
                "parameters": [{"name": "top_k", "in": "query", "schema": {"type": "integer", "minimum": 1}, "description": "classes listed per image, most probable first"},
                               {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["json", "png"]}, "description": "segmentation models: png answers one image with its mask PNG itself (image/png)"}],
                "requestBody": {"required": True, "content": {
                    "multipart/form-data": {"schema": {"type": "object", "properties": {"file": {"type": "array", "items": image}}}},
                    "image/*": {"schema": image}, "application/octet-stream": {"schema": image}}},
                "responses": {"200": {"description": "one entry per image, in request order: its classes (labels, values or mask, by the model's task), or an error for a file that is not a usable image (when at least one is)",
                                      "content": {"application/json": {"schema": {"type": "object", "properties": {"predictions": {"type": "array", "items": prediction}}}},
                                                  "image/png": {"schema": image}}}, **errors},
            }},
            "/health": {"get": {"summary": "ok once the model is loaded and warmed up (the server accepts no connection before)", "responses": {"200": {"description": "ready"}, "503": _error("still loading")}}},
            "/metadata": {"get": {"summary": "classes, input facts, model version, run id, limits, batching counters, memory budget and connections", "responses": {"200": {"description": "the model's metadata"}}}},
            "/": {"get": {"summary": "a web page: drop an image, see the top classes", "responses": {"200": {"description": "HTML"}}}},
        },
        "components": {"schemas": {"Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}}}},
    }  # fmt: skip


def docs_page(document: dict[str, Any]) -> str:
    """The OpenAPI document as a readable page, with a link to its JSON."""
    rows = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            codes = ", ".join(operation.get("responses", {}))
            rows.append(f"<tr><td><code>{method.upper()} {html.escape(path)}</code></td><td>{html.escape(operation['summary'])}</td><td>{codes}</td></tr>")
    title = html.escape(document["info"]["title"])
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{title} API</title>"
        "<style>body{font:15px system-ui,sans-serif;max-width:50em;margin:2em auto}td{padding:.3em .6em;border-bottom:1px solid #ddd}</style></head>"
        f"<body><h1>{title} API</h1><p>OpenAPI document: <a href=openapi.json>openapi.json</a>. Errors are JSON: "
        '<code>{"error": {"code": ..., "message": ...}}</code>.</p><table>' + "".join(rows) + "</table></body></html>"
    )
