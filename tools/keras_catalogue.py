"""Compare cnnbuild's layer catalogue with the installed Keras's own layer signatures.

    python tools/keras_catalogue.py            # every builtin layer: each Keras parameter and what cnnbuild does with it
    python tools/keras_catalogue.py --check    # only the disagreements; exit status 1 when there are any
    python tools/keras_catalogue.py --rows     # NOT_OFFERED rows as Keras has them now, to paste into
                                               # cnnbuild/plugins/builtin/keras_catalogue.py (then give each new name a reason)
    python tools/keras_catalogue.py --unlisted # Keras layers that cnnbuild neither offers nor refuses

The tables live in cnnbuild/plugins/builtin/keras_catalogue.py; tests/plugins/test_keras_catalogue.py
fails on any disagreement, so run this after upgrading Keras to see what to change.
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="print only the disagreements; exit 1 when there are any")
    parser.add_argument("--rows", action="store_true", help="print NOT_OFFERED rows from Keras's signatures")
    parser.add_argument("--unlisted", action="store_true", help="print Keras layers neither offered nor refused")
    options = parser.parse_args()

    import keras

    from cnnbuild.plugins.builtin import keras_catalogue as catalogue
    from cnnbuild.plugins.manager import get_registry

    registry = get_registry()
    builtin = {name: registration for name, registration in registry.layers.items() if registration.plugin.builtin}
    print(f"Keras {keras.__version__}; {len(builtin)} builtin layer types", file=sys.stderr)
    found = catalogue.disagreements(builtin, keras.layers)
    if options.check:
        print("\n".join(found) or "the catalogue agrees with Keras")
        return 1 if found else 0
    if options.unlisted:
        known = {getattr(keras.layers, name, None) for name in (*builtin, *catalogue.NOT_OFFERED_LAYERS)}
        for name in sorted(dir(keras.layers)):
            layer_class = getattr(keras.layers, name)
            if inspect.isclass(layer_class) and issubclass(layer_class, keras.layers.Layer) and layer_class not in known:  # aliases are the same class
                print(name)
        return 0
    for name, registration in sorted(builtin.items()):
        layer_class = getattr(keras.layers, name, None)
        if layer_class is None or name in catalogue.NOT_OFFERED_LAYERS or name in catalogue.NOT_KERAS:
            continue
        parameters = catalogue.keras_parameters(layer_class)
        offered = {key for key, field in registration.params.model_fields.items() if catalogue.is_offered(field)}
        if options.rows:
            left_out = [key for key in parameters if key not in offered or key in ("name", "inputs")]
            if left_out:
                quoted = ", ".join(f'"{key}"' for key in left_out)
                print(f'    "{name}": ({quoted}{"," if len(left_out) == 1 else ""}),')
            continue
        print(name)
        for key, default in parameters.items():
            shown = "required" if default is inspect.Parameter.empty else repr(default)
            if key in offered and key not in ("name", "inputs"):
                changed = catalogue.CHANGED_DEFAULTS.get((name, key))
                print(f"  {key} = {shown}: offered" + (f" (default changed: {changed})" if changed else ""))
            else:
                print(f"  {key} = {shown}: not offered: {catalogue.reason(name, key) or 'NO REASON LISTED'}")
    if found:
        print("\ndisagreements:\n" + "\n".join(found))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
