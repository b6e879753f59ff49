"""The front-end libraries committed under ui/static/vendor/: fetch them at their pinned
versions, check the committed copies offline, and bump a pin, so that nobody needs Node.

    python -m accord.ui.vendor check               (or: python ui/vendor.py check)
    python -m accord.ui.vendor fetch [NAME ...]
    python -m accord.ui.vendor update NAME VERSION

Standard library only. manifest.json in the vendor folder is the source of truth: per
library the npm package, its exact version, the tarball's integrity (``dist.integrity``),
and each file taken from the tarball with its destination and sha256.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

REGISTRY = "https://registry.npmjs.org"
VENDOR = Path(__file__).resolve().parent / "static" / "vendor"
MANIFEST = "manifest.json"
# The abbreviated metadata document: every version's dist (tarball, integrity) without
# the readmes, a fraction of the full document's size.
METADATA_ACCEPT = "application/vnd.npm.install-v1+json"
TIMEOUT_SECONDS = 60

Progress = Callable[[str], None]


def say(line: str) -> None:
    print(line, flush=True)


class VendorError(Exception):
    """A problem that leaves the vendor folder unchanged; its text is the one line to show."""


@dataclass(frozen=True)
class VendoredFile:
    source: str  # path inside the tarball, e.g. "package/dist/htmx.min.js"
    destination: str  # path relative to the vendor folder, e.g. "htmx/htmx.min.js"
    sha256: str


@dataclass(frozen=True)
class Library:
    name: str
    package: str
    version: str
    integrity: str
    files: tuple[VendoredFile, ...]
    licence: VendoredFile


def load_manifest(folder: Path) -> dict[str, Library]:
    """The libraries of ``folder/manifest.json``, by name."""
    path = folder / MANIFEST
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return {name: _library(name, entry) for name, entry in document["libraries"].items()}
    except FileNotFoundError:
        raise VendorError(f"{path}: not found; is {folder} the vendor folder?") from None
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise VendorError(f"{path}: malformed manifest ({error!r}); see README.md") from None


def _library(name: str, entry: dict[str, Any]) -> Library:
    def vendored(item: dict[str, Any]) -> VendoredFile:
        destination = PurePosixPath(item["to"])
        if destination.is_absolute() or ".." in destination.parts:
            raise ValueError(f"{name}: destination {item['to']!r} leaves the vendor folder")
        return VendoredFile(str(item["from"]), destination.as_posix(), str(item["sha256"]))

    return Library(
        name=name,
        package=str(entry["package"]),
        version=str(entry["version"]),
        integrity=str(entry["integrity"]),
        files=tuple(vendored(item) for item in entry["files"]),
        licence=vendored(entry["licence"]),
    )


def _entry(library: Library) -> dict[str, Any]:
    def item(file: VendoredFile) -> dict[str, str]:
        return {"from": file.source, "to": file.destination, "sha256": file.sha256}

    return {
        "package": library.package,
        "version": library.version,
        "integrity": library.integrity,
        "files": [item(file) for file in library.files],
        "licence": item(library.licence),
    }


def manifest_text(libraries: dict[str, Library]) -> str:
    document = {"libraries": {name: _entry(libraries[name]) for name in sorted(libraries)}}
    return json.dumps(document, indent=2) + "\n"


def check(folder: Path = VENDOR) -> list[str]:
    """Offline: one line per committed file that is missing or differs from the manifest."""
    problems = []
    for library in load_manifest(folder).values():
        for file in (*library.files, library.licence):
            path = folder / file.destination
            kind = "licence file" if file is library.licence else "file"
            if not path.is_file():
                problems.append(f"{file.destination}: {kind} of {library.name} is missing")
            elif hashlib.sha256(path.read_bytes()).hexdigest() != file.sha256:
                problems.append(
                    f"{file.destination}: sha256 differs from manifest.json "
                    f"({library.package} {library.version}); run `fetch` to restore it"
                )
    return problems


def sri_sha512(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


def _download(url: str, accept: str | None = None) -> bytes:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            data: bytes = response.read()
            return data
    except urllib.error.HTTPError as error:
        raise VendorError(f"{url}: the registry answered HTTP {error.code}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise VendorError(f"{url}: cannot download ({reason}); check the network") from None


def _release(registry: str, package: str, version: str) -> dict[str, Any]:
    """The ``dist`` of one published version: its tarball URL and integrity."""
    url = f"{registry.rstrip('/')}/{urllib.parse.quote(package, safe='@')}"
    try:
        metadata = json.loads(_download(url, accept=METADATA_ACCEPT))
        versions: dict[str, Any] = metadata["versions"]
    except (ValueError, KeyError, TypeError):
        raise VendorError(f"{url}: not a package metadata document") from None
    if version not in versions:
        latest = metadata.get("dist-tags", {}).get("latest", "?")
        raise VendorError(f"{package} has no version {version!r} (latest is {latest})")
    dist: dict[str, Any] = versions[version]["dist"]
    return dist


def _stage(
    library: Library, registry: str, staging: Path, progress: Progress, pinned: bool
) -> Library:
    """Download one library, verify it, write its files under ``staging``; returns the
    library with the integrity and sha256 found. ``pinned``: they must equal the manifest's."""
    progress(f"{library.package} {library.version}: reading registry metadata")
    dist = _release(registry, library.package, library.version)
    integrity = str(dist.get("integrity", ""))
    if pinned and integrity != library.integrity:
        raise VendorError(
            f"{library.package} {library.version}: the registry's integrity {integrity!r} "
            f"differs from manifest.json's {library.integrity!r}; nothing was changed"
        )
    url = str(dist.get("tarball", ""))
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise VendorError(f"{library.package} {library.version}: tarball URL {url!r} is not http")
    progress(f"{library.package} {library.version}: downloading {url}")
    tarball = _download(url)
    actual = sri_sha512(tarball)
    if actual not in integrity.split():
        raise VendorError(
            f"{library.package} {library.version}: the tarball's sha512 {actual!r} does not "
            f"match its integrity {integrity!r}; nothing was changed"
        )
    progress(f"{library.package} {library.version}: integrity verified ({len(tarball)} bytes)")
    try:
        found = _extract(library, tarball, staging, pinned)
    except tarfile.TarError as error:
        raise VendorError(f"{library.package} {library.version}: bad tarball ({error})") from None
    return replace(library, integrity=integrity, files=tuple(found[:-1]), licence=found[-1])


def _extract(library: Library, tarball: bytes, staging: Path, pinned: bool) -> list[VendoredFile]:
    """Write the library's files (the licence last) under ``staging``; returns them with
    the sha256 found."""
    found = []
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for file in (*library.files, library.licence):
            try:
                member = archive.getmember(file.source)
                reader = archive.extractfile(member) if member.isfile() else None
            except KeyError:
                reader = None
            if reader is None:
                raise VendorError(
                    f"{library.package} {library.version}: the tarball has no file "
                    f'{file.source!r}; fix the manifest\'s "from"; nothing was changed'
                )
            data = reader.read()
            sha256 = hashlib.sha256(data).hexdigest()
            if pinned and sha256 != file.sha256:
                raise VendorError(
                    f"{file.destination}: sha256 of {file.source!r} in the tarball differs "
                    "from manifest.json; nothing was changed"
                )
            target = staging / file.destination
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            found.append(replace(file, sha256=sha256))
    return found


def _install(
    folder: Path,
    libraries: Iterable[Library],
    registry: str,
    progress: Progress,
    pinned: bool,
    manifest: dict[str, Library] | None = None,
) -> None:
    """Stage every library in a temporary folder beside ``folder``; move the files (and
    ``manifest``, when given) into place only once all of them have been verified."""
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".vendor-") as temporary:
        staging = Path(temporary)
        written = []
        for library in libraries:
            staged = _stage(library, registry, staging, progress, pinned)
            written += [file.destination for file in (*staged.files, staged.licence)]
            if manifest is not None:
                manifest[library.name] = staged
        if manifest is not None:
            (staging / MANIFEST).write_text(manifest_text(manifest), encoding="utf-8")
            written.append(MANIFEST)
        for destination in written:
            (folder / destination).parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / destination, folder / destination)
            progress(f"wrote {destination}")


def fetch(
    folder: Path = VENDOR,
    names: Sequence[str] = (),
    registry: str = REGISTRY,
    progress: Progress = say,
) -> None:
    """Download the pinned versions (all, or ``names``) and rewrite their files."""
    libraries = load_manifest(folder)
    _install(
        folder,
        [_known(libraries, name) for name in names or libraries],
        registry,
        progress,
        pinned=True,
    )


def update(
    folder: Path,
    name: str,
    version: str,
    registry: str = REGISTRY,
    progress: Progress = say,
) -> None:
    """Pin ``name`` to ``version``: fetch it, take the registry's integrity, rewrite the
    manifest with the new integrity and sha256s."""
    libraries = load_manifest(folder)
    bumped = replace(_known(libraries, name), version=version)
    _install(folder, [bumped], registry, progress, pinned=False, manifest=libraries)


def _known(libraries: dict[str, Library], name: str) -> Library:
    if name not in libraries:
        raise VendorError(f"unknown library {name!r}; manifest.json has {', '.join(libraries)}")
    return libraries[name]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m accord.ui.vendor",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--folder", type=Path, default=VENDOR, help="the vendor folder")
    parser.add_argument("--registry", default=REGISTRY, help="npm registry base URL")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", help="verify the committed files offline")
    fetch_command = commands.add_parser("fetch", help="download the pinned versions")
    fetch_command.add_argument("names", nargs="*", metavar="NAME")
    update_command = commands.add_parser("update", help="pin a library to another version")
    update_command.add_argument("name", metavar="NAME")
    update_command.add_argument("version", metavar="VERSION")
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            problems = check(args.folder)
            for problem in problems:
                print(f"vendor: {problem}", file=sys.stderr)
            if problems:
                return 1
            print(f"vendor: {len(load_manifest(args.folder))} libraries match manifest.json")
        elif args.command == "fetch":
            fetch(args.folder, args.names, args.registry)
        else:
            update(args.folder, args.name, args.version, args.registry)
    except VendorError as error:
        print(f"vendor: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
