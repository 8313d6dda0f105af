#!/usr/bin/env python3
"""Federated private-message throughput: SENDERS accounts on host A each send
MESSAGES `/pm` lines to their partner on host B; counts the `(Private) ...`
lines B's sessions receive and prints remote PMs per second.

Usage: fed-pm.py A_HOST A_PORT B_HOST B_PORT [SENDERS] [MESSAGES] [WINDOW]
Each sender keeps at most WINDOW messages unanswered (the server handles one
session's commands in order, so a window only hides the round trip).
"""
import asyncio
import sys
import time

GREETING = b"Enter command (/login /register):"


async def login(host, port, name):
    r, w = await asyncio.open_connection(host, port)
    await r.readuntil(GREETING)
    w.write(f"/register {name} pw\n".encode())
    await r.readuntil(GREETING)
    w.write(f"/login {name} pw\n".encode())
    await r.readuntil(b"Select a server using /join_server <server_name>.\n")
    return r, w


async def sender(r, w, target, messages, window, failures):
    sem = asyncio.Semaphore(window)

    async def read_answers():
        for _ in range(messages):
            line = await r.readline()
            if not line.startswith(b"Private message sent"):
                failures.append(line)
            sem.release()

    reader = asyncio.create_task(read_answers())
    for i in range(messages):
        await sem.acquire()
        w.write(f"/pm {target} m{i}\n".encode())
    await reader


async def receiver(r, messages, count):
    got = 0
    while got < messages:
        line = await r.readline()
        if not line:
            break
        if line.startswith(b"(Private)"):
            got += 1
            count[0] += 1


async def main():
    a_host, a_port, b_host, b_port = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    senders = int(sys.argv[5]) if len(sys.argv) > 5 else 8
    messages = int(sys.argv[6]) if len(sys.argv) > 6 else 500
    window = int(sys.argv[7]) if len(sys.argv) > 7 else 4
    tag = str(int(time.time()) % 100000)
    recv = [await login(b_host, b_port, f"b{tag}x{i}") for i in range(senders)]
    send = [await login(a_host, a_port, f"a{tag}x{i}") for i in range(senders)]
    failures = []
    count = [0]
    t0 = time.monotonic()
    rtasks = [asyncio.create_task(receiver(r, messages, count)) for r, _ in recv]
    stasks = [
        sender(r, w, f"b{tag}x{i}@{b_host}", messages, window, failures) for i, (r, w) in enumerate(send)
    ]
    await asyncio.gather(*stasks)
    await asyncio.wait(rtasks, timeout=5 if failures else 30)
    secs = time.monotonic() - t0
    got = count[0]
    print(f"fed-pm: senders={senders} messages={messages} window={window} "
          f"delivered={got}/{senders * messages} failed={len(failures)} secs={secs:.2f} "
          f"pm_per_sec={got / secs:.0f}")


asyncio.run(main())
