"""``python -m cnnbuild.sweep FOLDER INDEX --trials N``: one worker process of ``cnnbuild sweep --workers K``."""

from cnnbuild.sweep.worker import main

main()
