# TEST SCAFFOLDING, not a production worker.
#
# A minimal Remote Workers API bot for the BuildGrid tests of `abovo build
# --remote` (crates/abovo/tests/cli_build_buildgrid.rs, docs/remote.md).
# BuildGrid's own worker, buildbox-worker, is in no registry reachable from
# the test machines, so this bot stands in for it: it opens a bot session,
# takes one lease at a time, runs the leased Action with buildbox-run (the
# bubblewrap runner, which makes the input root the file system root and
# reads and writes the CAS of BuildGrid itself), and hands the ActionResult
# back in the lease. Production setups use buildbox-worker with a
# buildbox-run runner (BuildGrid) or bb_worker with bb_runner (Buildbarn).
#
# Usage: python bot.py URL INSTANCE BOT_ID BUILDBOX_RUN WORK_DIR
# It runs in BuildGrid's virtual environment (its generated protos and
# grpcio). Each lease it starts and finishes is one line on standard error
# (`bot BOT_ID: lease ID started` / `… finished`), which the tests read to
# know which worker runs what.

import os
import subprocess
import sys
import tempfile
import threading
import time

import grpc

from buildgrid._protos.build.bazel.remote.execution.v2 import remote_execution_pb2 as re_pb2
from buildgrid._protos.build.bazel.remote.execution.v2 import remote_execution_pb2_grpc as re_grpc
from buildgrid._protos.google.devtools.remoteworkers.v1test2 import bots_pb2, bots_pb2_grpc, worker_pb2
from buildgrid._protos.google.rpc import code_pb2, status_pb2

# LeaseState and BotStatus values of the Remote Workers API.
PENDING, ACTIVE, COMPLETED = 1, 2, 4
OK_STATUS = 1


def say(bot_id, message):
    print(f"bot {bot_id}: {message}", file=sys.stderr, flush=True)


def read_action(cas, instance, lease):
    """The lease's Action: BuildGrid sends the Action or its Digest."""
    action = re_pb2.Action()
    if lease.payload.Is(re_pb2.Action.DESCRIPTOR):
        lease.payload.Unpack(action)
        return action
    digest = re_pb2.Digest()
    lease.payload.Unpack(digest)
    reply = cas.BatchReadBlobs(re_pb2.BatchReadBlobsRequest(instance_name=instance, digests=[digest]))
    action.ParseFromString(reply.responses[0].data)
    return action


def run_lease(url, instance, bot_id, runner, work, lease, done):
    """Runs one lease with buildbox-run and records its outcome in `done`."""
    say(bot_id, f"lease {lease.id} started")
    status = status_pb2.Status(code=code_pb2.OK)
    result = None
    try:
        with grpc.insecure_channel(url.removeprefix("grpc://")) as channel:
            action = read_action(re_grpc.ContentAddressableStorageStub(channel), instance, lease)
        with tempfile.TemporaryDirectory(dir=work) as tmp:
            action_file = os.path.join(tmp, "action")
            result_file = os.path.join(tmp, "result")
            with open(action_file, "wb") as f:
                f.write(action.SerializeToString())
            os.mkdir(os.path.join(tmp, "ws"))
            run = subprocess.run(
                [
                    runner,
                    "--disable-localcas",
                    f"--remote={url.replace('grpc://', 'http://')}",
                    f"--instance={instance}",
                    f"--action={action_file}",
                    f"--action-result={result_file}",
                    f"--workspace-path={os.path.join(tmp, 'ws')}",
                ],
                capture_output=True,
            )
            if os.path.exists(result_file) and os.path.getsize(result_file) > 0:
                result = re_pb2.ActionResult()
                with open(result_file, "rb") as f:
                    result.ParseFromString(f.read())
            else:
                status = status_pb2.Status(
                    code=code_pb2.INTERNAL,
                    message=f"buildbox-run exited with {run.returncode}: {run.stderr.decode(errors='replace')[-2000:]}",
                )
    except Exception as e:  # the lease fails, the bot lives on
        status = status_pb2.Status(code=code_pb2.INTERNAL, message=f"the bot failed: {e}")
    say(bot_id, f"lease {lease.id} finished with status {status.code}")
    done[lease.id] = (status, result)


def retrying(bot_id, call, f):
    """f(), again while the connection is closed (the server's max
    connection age) or the server busy."""
    while True:
        try:
            return f()
        except grpc.RpcError as e:
            if e.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED):
                raise
            say(bot_id, f"{call}: {e.code()}, again")
            time.sleep(0.2)


def main():
    url, instance, bot_id, runner, work = sys.argv[1:6]
    channel = grpc.insecure_channel(url.removeprefix("grpc://"))
    bots = bots_pb2_grpc.BotsStub(channel)
    device = worker_pb2.Device(
        handle=bot_id,
        properties=[
            worker_pb2.Device.Property(key="OSFamily", value="linux"),
            worker_pb2.Device.Property(key="ISA", value="x86-64"),
        ],
    )
    request = bots_pb2.CreateBotSessionRequest(
        parent=instance,
        bot_session=bots_pb2.BotSession(bot_id=bot_id, status=OK_STATUS, worker=worker_pb2.Worker(devices=[device])),
    )
    session = retrying(bot_id, "CreateBotSession", lambda: bots.CreateBotSession(request, timeout=30))
    say(bot_id, f"session {session.name}")
    running = {}
    done = {}
    while True:
        for lease in session.leases:
            if lease.state in (PENDING, ACTIVE) and lease.id not in running:
                lease.state = ACTIVE
                thread = threading.Thread(
                    target=run_lease, args=(url, instance, bot_id, runner, work, lease, done), daemon=True
                )
                running[lease.id] = thread
                thread.start()
        for lease in session.leases:
            if lease.id in done:
                status, result = done.pop(lease.id)
                lease.state = COMPLETED
                lease.status.CopyFrom(status)
                if result is not None:
                    lease.result.Pack(result)
                del running[lease.id]
        if running:
            # A lease is running: beat the keepalive, without long polls.
            time.sleep(0.2)
        request = bots_pb2.UpdateBotSessionRequest(name=session.name, bot_session=session)
        session = retrying(bot_id, "UpdateBotSession", lambda: bots.UpdateBotSession(request, timeout=30))


if __name__ == "__main__":
    main()
