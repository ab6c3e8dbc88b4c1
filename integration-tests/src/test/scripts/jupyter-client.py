#!/usr/bin/python3
"""jupyter-client.py CONNECTION_FILE -- a Jupyter client outside the tree (RealRuntimesTest).

Prints "ready" once the kernel answers, then executes each line read on stdin as a cell (a
literal backslash-n stands for a new line) and prints its status and its output on one line.
"""
import sys

from jupyter_client import BlockingKernelClient

kc = BlockingKernelClient()
kc.load_connection_file(sys.argv[1])
kc.start_channels()
kc.wait_for_ready(timeout=60)
print("ready", flush=True)
for line in sys.stdin:
    out = []
    reply = kc.execute_interactive(line.rstrip("\n").replace("\\n", "\n"), timeout=60, output_hook=lambda m: out.append(
        m["content"].get("text", "")) if m["msg_type"] == "stream" else None)
    print(reply["content"]["status"], " ".join("".join(out).split()), flush=True)
