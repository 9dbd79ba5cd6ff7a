"""A misbehaving SMTP server for the mail-fault tests.

usage: smtp_fault.py PORT MODE
  refuse-recipient   answers 550 to RCPT TO
  close-mid-message  accepts DATA, reads a little of the message, then drops the connection
"""
import asyncio
import sys

PORT, MODE = int(sys.argv[1]), sys.argv[2]


async def session(reader, writer):
    def send(line):
        writer.write((line + "\r\n").encode())

    send("220 fault.test ESMTP")
    await writer.drain()
    in_data = False
    received = 0
    while True:
        line = await reader.readline()
        if not line:
            break
        if in_data:
            received += len(line)
            if received > 200:
                writer.transport.abort()  # gone mid-message, no reply
                return
            continue
        verb = line.decode(errors="replace").strip().upper()
        if verb.startswith(("EHLO", "HELO")):
            send("250 fault.test")
        elif verb.startswith("MAIL FROM"):
            send("250 OK")
        elif verb.startswith("RCPT TO"):
            send("550 5.1.1 No such user here" if MODE == "refuse-recipient" else "250 OK")
        elif verb == "DATA":
            send("354 End data with <CR><LF>.<CR><LF>")
            in_data = True
        elif verb == "QUIT":
            send("221 Bye")
            await writer.drain()
            break
        else:
            send("250 OK")
        await writer.drain()
    writer.close()


async def main():
    server = await asyncio.start_server(session, "127.0.0.1", PORT)
    async with server:
        await server.serve_forever()


asyncio.run(main())
