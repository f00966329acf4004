"""The BlobStore contract: staged uploads become content-addressed blobs only once verified, read as streams.

Every test runs over every adapter (see conftest.py). `open_blob_store()` opens another store over the same
storage: the same process after a restart, or another worker process beside this one. The tests of a
capability (a local file) skip the stores that do not offer it.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Final

import pytest

from pullcache.core.digests import Digest
from pullcache.registry.errors import BlobUploadUnknown, DigestInvalid, RangeInvalid
from pullcache.registry.ports import Blob, BlobStore, LocalFile
from tests.stores import STEP_TIMEOUT, BlobStoreOpener, GatedChunks, chunks, read_blob

MIB: Final = 1 << 20
# Long enough for a task started just before to reach the point where it waits for the upload's lock.
SETTLE: Final = 0.05
RACE_ROUNDS: Final = 20


async def start(store: BlobStore) -> str:
    upload_id = str(uuid.uuid4())
    await store.start_upload(upload_id)
    return upload_id


async def upload(store: BlobStore, *parts: bytes) -> str:
    """A started upload holding `parts`, appended in one request."""
    upload_id = await start(store)
    await store.append(upload_id, 0, chunks(*parts))
    return upload_id


# -- visibility and verification ----------------------------------------------------------------------------


async def test_new_upload_is_empty(blob_store: BlobStore) -> None:
    assert await blob_store.upload_size(await start(blob_store)) == 0


async def test_unknown_upload_has_no_size(blob_store: BlobStore) -> None:
    assert await blob_store.upload_size(str(uuid.uuid4())) is None


async def test_staged_bytes_are_not_visible_before_commit(blob_store: BlobStore) -> None:
    data = b"staged, not committed"
    await upload(blob_store, data)

    assert await blob_store.open_blob(Digest.of(data)) is None


async def test_commit_makes_the_bytes_the_blob_of_their_digest(blob_store: BlobStore) -> None:
    data = b"committed content"
    upload_id = await upload(blob_store, data)

    size = await blob_store.commit(upload_id, Digest.of(data))

    assert size == len(data)
    assert await read_blob(blob_store, Digest.of(data)) == data
    assert await blob_store.upload_size(upload_id) is None


async def test_commit_under_a_wrong_digest_is_refused_and_discards_the_upload(blob_store: BlobStore) -> None:
    data = b"what was sent"
    claimed = Digest.of(b"what was claimed")
    upload_id = await upload(blob_store, data)

    with pytest.raises(DigestInvalid):
        await blob_store.commit(upload_id, claimed)

    assert await blob_store.open_blob(claimed) is None
    assert await blob_store.open_blob(Digest.of(data)) is None
    assert await blob_store.upload_size(upload_id) is None


async def test_sha512_commit_verifies_the_bytes_by_sha512(blob_store: BlobStore) -> None:
    data = b"sha512 content"
    upload_id = await upload(blob_store, data)

    assert await blob_store.commit(upload_id, Digest.of(data, "sha512")) == len(data)
    assert await read_blob(blob_store, Digest.of(data, "sha512")) == data


async def test_sha512_commit_under_a_wrong_digest_is_refused(blob_store: BlobStore) -> None:
    upload_id = await upload(blob_store, b"sent")

    with pytest.raises(DigestInvalid):
        await blob_store.commit(upload_id, Digest.of(b"claimed", "sha512"))

    assert await blob_store.upload_size(upload_id) is None


async def test_empty_blob_is_committed(blob_store: BlobStore) -> None:
    upload_id = await start(blob_store)

    assert await blob_store.commit(upload_id, Digest.of(b"")) == 0
    assert await read_blob(blob_store, Digest.of(b"")) == b""


async def test_committing_content_already_stored_keeps_the_blob(blob_store: BlobStore) -> None:
    data = b"pushed twice"
    first, second = await upload(blob_store, data), await upload(blob_store, data)

    assert await blob_store.commit(first, Digest.of(data)) == len(data)
    assert await blob_store.commit(second, Digest.of(data)) == len(data)
    assert await read_blob(blob_store, Digest.of(data)) == data
    assert await blob_store.upload_size(second) is None


async def test_commit_of_an_unknown_upload_is_refused(blob_store: BlobStore) -> None:
    with pytest.raises(BlobUploadUnknown):
        await blob_store.commit(str(uuid.uuid4()), Digest.of(b""))


# -- reading ------------------------------------------------------------------------------------------------

# A little over 3 MiB: ranges cross the chunks a store reads or holds at a time.
CONTENT: Final = bytes(range(256)) * (3 * 4096 + 1)


async def committed(store: BlobStore, data: bytes) -> Blob:
    digest = Digest.of(data)
    await store.commit(await upload(store, data), digest)
    blob = await store.open_blob(digest)
    assert blob is not None
    return blob


async def read(blob: Blob, start: int, length: int) -> bytes:
    return b"".join([chunk async for chunk in blob.chunks(start, length)])


@pytest.mark.parametrize(
    ("start", "length"),
    [(0, len(CONTENT)), (0, 1), (len(CONTENT) - 1, 1), (MIB - 3, 10), (1000, 2 * MIB), (7, 0)],
    ids=["whole", "first-byte", "last-byte", "across-a-mebibyte", "two-mebibytes", "empty"],
)
async def test_any_range_of_a_committed_blob_is_read_as_chunks(blob_store: BlobStore, start: int, length: int) -> None:
    blob = await committed(blob_store, CONTENT)

    assert blob.size == len(CONTENT)
    assert await read(blob, start, length) == CONTENT[start : start + length]


async def test_a_committed_blob_is_read_again_after_a_reader_stopped_early(blob_store: BlobStore) -> None:
    blob = await committed(blob_store, CONTENT)
    stream = blob.chunks(0, blob.size)
    await anext(stream)
    await stream.aclose()
    blob.close()

    assert await read(blob, 0, blob.size) == CONTENT


async def test_staged_bytes_are_found_as_the_upload_grows_and_not_once_committed(blob_store: BlobStore) -> None:
    upload_id = await start(blob_store)
    empty = await blob_store.find_staged(upload_id)
    assert empty is not None
    assert empty.size == 0

    await blob_store.append(upload_id, 0, chunks(b"staged ", b"so far"))
    staged = await blob_store.find_staged(upload_id)
    assert staged is not None
    assert (staged.size, await read(staged, 0, staged.size)) == (13, b"staged so far")

    await blob_store.commit(upload_id, Digest.of(b"staged so far"))
    assert await blob_store.find_staged(upload_id) is None


async def test_nothing_is_staged_for_an_unknown_or_aborted_upload(blob_store: BlobStore) -> None:
    upload_id = await upload(blob_store, b"abandoned")
    await blob_store.abort(upload_id)

    assert await blob_store.find_staged(upload_id) is None
    assert await blob_store.find_staged(str(uuid.uuid4())) is None


# -- capability: a local file -------------------------------------------------------------------------------


async def test_a_blob_offered_as_a_local_file_is_that_whole_file(blob_store: BlobStore) -> None:
    blob = await committed(blob_store, CONTENT)
    file = blob.local_file()
    if file is None:
        pytest.skip("the store keeps no local files")

    assert isinstance(file, LocalFile)  # committed: whole, not still growing
    assert file.path.read_bytes() == CONTENT


async def test_a_staged_local_file_grows_with_the_upload_and_becomes_the_blob(blob_store: BlobStore) -> None:
    """What the pull-through cache's fills rely on: a reader holding the staged file open reads the blob."""
    upload_id = await upload(blob_store, b"first ")
    staged = await blob_store.find_staged(upload_id)
    assert staged is not None
    file = staged.local_file()
    if file is None:
        pytest.skip("the store keeps no local files")
    assert isinstance(file, LocalFile)
    fd = os.open(file.path, os.O_RDONLY)
    try:
        await blob_store.append(upload_id, None, chunks(b"second"))
        assert os.fstat(fd).st_size == 12

        await blob_store.commit(upload_id, Digest.of(b"first second"))
        blob = await blob_store.open_blob(Digest.of(b"first second"))
        assert blob is not None
        committed_file = blob.local_file()
        assert isinstance(committed_file, LocalFile)
        assert os.stat(committed_file.path).st_ino == os.fstat(fd).st_ino
        assert os.pread(fd, 12, 0) == b"first second"
    finally:
        os.close(fd)


# -- appending ----------------------------------------------------------------------------------------------


async def test_chunks_append_at_their_offsets_and_report_the_new_size(blob_store: BlobStore) -> None:
    upload_id = await start(blob_store)

    assert await blob_store.append(upload_id, 0, chunks(b"abc", b"de")) == 5
    assert await blob_store.append(upload_id, 5, chunks(b"fgh")) == 8
    assert await blob_store.append(upload_id, None, chunks(b"ij")) == 10
    assert await blob_store.append(upload_id, 10, chunks()) == 10
    assert await blob_store.upload_size(upload_id) == 10
    await blob_store.commit(upload_id, Digest.of(b"abcdefghij"))
    assert await read_blob(blob_store, Digest.of(b"abcdefghij")) == b"abcdefghij"


async def test_blob_of_several_mebibytes_in_small_pieces_is_stored_whole(blob_store: BlobStore) -> None:
    pieces = [bytes([n % 251]) * (64 * 1024 + n) for n in range(50)]  # a little over 3 MiB, uneven pieces
    data = b"".join(pieces)
    assert len(data) > 3 * MIB
    upload_id = await start(blob_store)

    assert await blob_store.append(upload_id, 0, chunks(*pieces)) == len(data)
    assert await blob_store.commit(upload_id, Digest.of(data)) == len(data)
    assert await read_blob(blob_store, Digest.of(data)) == data


@pytest.mark.parametrize("offset", [0, 2, 4, 100], ids=["replayed", "overlapping", "gap", "far-gap"])
async def test_chunk_not_at_the_end_is_refused_with_where_the_upload_ends(blob_store: BlobStore, offset: int) -> None:
    upload_id = await upload(blob_store, b"abc")

    with pytest.raises(RangeInvalid) as raised:
        await blob_store.append(upload_id, offset, chunks(b"xyz"))

    assert raised.value.size == 3
    assert await blob_store.upload_size(upload_id) == 3
    assert await blob_store.commit(upload_id, Digest.of(b"abc")) == 3


async def test_append_to_an_unknown_upload_is_refused(blob_store: BlobStore) -> None:
    with pytest.raises(BlobUploadUnknown):
        await blob_store.append(str(uuid.uuid4()), 0, chunks(b"x"))


# -- restarts and other workers -----------------------------------------------------------------------------


async def test_upload_resumes_after_a_restart(open_blob_store: BlobStoreOpener) -> None:
    before = open_blob_store()
    upload_id = await upload(before, b"before the restart, ")

    after = open_blob_store()
    assert await after.upload_size(upload_id) == 20
    assert await after.append(upload_id, 20, chunks(b"after it")) == 28
    await after.commit(upload_id, Digest.of(b"before the restart, after it"))

    assert await read_blob(after, Digest.of(b"before the restart, after it")) == b"before the restart, after it"


async def test_large_upload_resumed_after_a_restart_is_verified_whole(open_blob_store: BlobStoreOpener) -> None:
    first, second = bytes(range(256)) * (5 * 4096), b"tail" * 1000  # 5 MiB, then a little more
    upload_id = await upload(open_blob_store(), first)

    after = open_blob_store()
    await after.append(upload_id, len(first), chunks(second))

    assert await after.commit(upload_id, Digest.of(first + second)) == len(first) + len(second)


async def test_upload_moves_between_workers_chunk_by_chunk(open_blob_store: BlobStoreOpener) -> None:
    one, two = open_blob_store(), open_blob_store()
    upload_id = await start(one)

    await one.append(upload_id, 0, chunks(b"first "))
    await two.append(upload_id, 6, chunks(b"second "))
    await one.append(upload_id, 13, chunks(b"third"))

    assert await one.commit(upload_id, Digest.of(b"first second third")) == 18
    assert await read_blob(two, Digest.of(b"first second third")) == b"first second third"


async def test_worker_that_took_no_chunk_commits_the_upload(open_blob_store: BlobStoreOpener) -> None:
    one, two = open_blob_store(), open_blob_store()
    upload_id = await upload(one, b"sent to one")

    assert await two.commit(upload_id, Digest.of(b"sent to one")) == 11


async def test_worker_sees_a_chunk_another_worker_appended_before_its_own_commit(
    open_blob_store: BlobStoreOpener,
) -> None:
    one, two = open_blob_store(), open_blob_store()
    upload_id = await upload(one, b"one ")
    await two.append(upload_id, None, chunks(b"two"))

    with pytest.raises(DigestInvalid):
        await one.commit(upload_id, Digest.of(b"one "))


async def test_blob_committed_by_one_worker_is_visible_to_another(open_blob_store: BlobStoreOpener) -> None:
    one, two = open_blob_store(), open_blob_store()
    await one.commit(await upload(one, b"shared"), Digest.of(b"shared"))

    assert await read_blob(two, Digest.of(b"shared")) == b"shared"


# -- abort --------------------------------------------------------------------------------------------------


async def test_abort_discards_the_upload(blob_store: BlobStore) -> None:
    upload_id = await upload(blob_store, b"abandoned")

    await blob_store.abort(upload_id)

    assert await blob_store.upload_size(upload_id) is None
    with pytest.raises(BlobUploadUnknown):
        await blob_store.append(upload_id, None, chunks(b"more"))
    with pytest.raises(BlobUploadUnknown):
        await blob_store.commit(upload_id, Digest.of(b"abandoned"))
    assert await blob_store.open_blob(Digest.of(b"abandoned")) is None


async def test_abort_is_idempotent(blob_store: BlobStore) -> None:
    upload_id = await upload(blob_store, b"abandoned")

    await blob_store.abort(upload_id)
    await blob_store.abort(upload_id)
    await blob_store.abort(str(uuid.uuid4()))

    assert await blob_store.upload_size(upload_id) is None


async def test_abort_by_another_worker_ends_the_upload_for_every_worker(open_blob_store: BlobStoreOpener) -> None:
    one, two = open_blob_store(), open_blob_store()
    upload_id = await upload(one, b"abandoned")

    await two.abort(upload_id)

    with pytest.raises(BlobUploadUnknown):
        await one.append(upload_id, None, chunks(b"more"))


async def test_abort_leaves_committed_blobs_alone(blob_store: BlobStore) -> None:
    upload_id = await upload(blob_store, b"kept")
    await blob_store.commit(upload_id, Digest.of(b"kept"))

    await blob_store.abort(upload_id)

    assert await read_blob(blob_store, Digest.of(b"kept")) == b"kept"


# -- concurrency --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("second_worker", [False, True], ids=["same-worker", "other-worker"])
async def test_concurrent_appends_to_one_upload_are_serialized(
    open_blob_store: BlobStoreOpener, second_worker: bool
) -> None:
    first = open_blob_store()
    other = open_blob_store() if second_worker else first
    upload_id = await start(first)
    held = GatedChunks(b"A" * 1000, b"a" * 1000)
    holding = asyncio.create_task(first.append(upload_id, None, held.stream()))
    await asyncio.wait_for(held.reading.wait(), STEP_TIMEOUT)

    waiting = asyncio.create_task(other.append(upload_id, None, chunks(b"B" * 500)))
    await asyncio.sleep(SETTLE)
    held.release()
    sizes = await asyncio.wait_for(asyncio.gather(holding, waiting), STEP_TIMEOUT)

    expected = held.content + b"B" * 500
    assert list(sizes) == [2000, 2500]
    assert await first.commit(upload_id, Digest.of(expected)) == len(expected)


async def test_concurrent_chunks_at_the_same_offset_admit_only_the_first(open_blob_store: BlobStoreOpener) -> None:
    one, two = open_blob_store(), open_blob_store()
    upload_id = await start(one)
    held = GatedChunks(b"first", b" wins")
    holding = asyncio.create_task(one.append(upload_id, 0, held.stream()))
    await asyncio.wait_for(held.reading.wait(), STEP_TIMEOUT)

    late = asyncio.create_task(two.append(upload_id, 0, chunks(b"second loses")))
    await asyncio.sleep(SETTLE)
    held.release()

    assert await asyncio.wait_for(holding, STEP_TIMEOUT) == 10
    with pytest.raises(RangeInvalid) as raised:
        await asyncio.wait_for(late, STEP_TIMEOUT)
    assert raised.value.size == 10
    assert await one.commit(upload_id, Digest.of(b"first wins")) == 10


async def test_chunk_racing_the_commit_never_alters_the_committed_blob(open_blob_store: BlobStoreOpener) -> None:
    """Whichever wins, the blob under the digest holds exactly the digested bytes."""
    store, other = open_blob_store(), open_blob_store()
    for round_number in range(RACE_ROUNDS):
        upload_id = await start(store)
        held = GatedChunks(b"round %d " % round_number, b"committed bytes")
        digest = Digest.of(held.content)
        holding = asyncio.create_task(store.append(upload_id, None, held.stream()))
        await asyncio.wait_for(held.reading.wait(), STEP_TIMEOUT)
        committing = asyncio.create_task(store.commit(upload_id, digest))
        await asyncio.sleep(SETTLE / 5)
        late = asyncio.create_task(other.append(upload_id, None, chunks(b" and a late chunk")))
        await asyncio.sleep(SETTLE / 5)
        held.release()

        await asyncio.wait_for(holding, STEP_TIMEOUT)
        outcomes = await asyncio.wait_for(asyncio.gather(committing, late, return_exceptions=True), STEP_TIMEOUT)

        committed, appended = outcomes
        if isinstance(committed, BaseException):
            assert isinstance(committed, DigestInvalid), committed
            assert await store.open_blob(digest) is None
        else:
            assert isinstance(appended, BlobUploadUnknown), f"round {round_number}: the late chunk got {appended!r}"
            assert await read_blob(other, digest) == held.content, f"round {round_number}: committed blob altered"
