"""Standard error is redirected in one place (data/native.stderr_captured), one thread at a time:
threads capturing at once each get only their own output, and descriptor 2 comes back."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import json, os, sys, threading, time
    from cnnbuild.data.native import stderr_captured
    from cnnbuild.export.native_output import quiet_native_output

    caught = {}

    def capture(name):
        with stderr_captured() as written:
            os.write(2, f"{name} begins\\n".encode())
            time.sleep(0.2)  # the other threads start their blocks meanwhile
            os.write(2, f"{name} ends\\n".encode())
        caught[name] = "".join(written)

    def converter():
        with quiet_native_output():
            os.write(2, b"converter chatter\\n")
            time.sleep(0.2)

    threads = [threading.Thread(target=capture, args=(f"t{i}",)) for i in range(3)] + [threading.Thread(target=converter)]
    for thread in threads:
        thread.start()
        time.sleep(0.02)
    for thread in threads:
        thread.join()
    os.write(2, b"after\\n")
    print(json.dumps(caught))
""")


def test_threads_capturing_at_once_each_get_their_own_output_and_stderr_comes_back():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {f"t{i}": f"t{i} begins\nt{i} ends\n" for i in range(3)}
    assert done.stderr == "after\n"  # nothing captured leaked, and descriptor 2 is the terminal's again
