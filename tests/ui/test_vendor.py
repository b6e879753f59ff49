"""The vendored front-end libraries: the committed copies match their manifest, and fetching
trusts nothing that fails the registry's integrity. Network tests talk only to 127.0.0.1."""

import hashlib
import io
import json
import re
import shutil
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from accord.ui import vendor

PACKAGE = "@acme/widgets"
SCRIPT = b"/* widgets 1.0.0 */ window.widgets = 1;\n"
LICENCE = b"MIT License, Acme\n"


def tarball(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class FakeRegistry:
    """Serves package metadata and tarballs from a dict, on 127.0.0.1 only."""

    def __init__(self) -> None:
        self.routes: dict[str, bytes] = {}
        self.requests: list[str] = []
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                registry.requests.append(self.path)
                body = registry.routes.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.end_headers()
                self.wfile.write(body or b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def publish(self, versions: dict[str, bytes], integrity: dict[str, str] | None = None):
        """Publishes ``{version: tarball}``; ``integrity`` overrides what the metadata says."""
        metadata = {"name": PACKAGE, "dist-tags": {"latest": max(versions)}, "versions": {}}
        for version, data in versions.items():
            path = f"/acme-widgets-{version}.tgz"
            self.routes[path] = data
            metadata["versions"][version] = {
                "dist": {
                    "tarball": self.url + path,
                    "integrity": (integrity or {}).get(version, vendor.sri_sha512(data)),
                }
            }
        self.routes["/@acme%2Fwidgets"] = json.dumps(metadata).encode()


@pytest.fixture
def registry() -> Iterator[FakeRegistry]:
    fake = FakeRegistry()
    thread = threading.Thread(target=fake.server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def pinned_folder(folder: Path, version: str, data: bytes) -> Path:
    """A vendor folder whose manifest pins the fake package at ``version`` (``data`` being
    its tarball), with no files fetched yet."""
    folder.mkdir()
    entry = {
        "package": PACKAGE,
        "version": version,
        "integrity": vendor.sri_sha512(data),
        "files": [
            {
                "from": "package/dist/widgets.min.js",
                "to": "widgets/widgets.min.js",
                "sha256": hashlib.sha256(SCRIPT).hexdigest(),
            }
        ],
        "licence": {
            "from": "package/LICENSE",
            "to": "widgets/LICENSE",
            "sha256": hashlib.sha256(LICENCE).hexdigest(),
        },
    }
    (folder / "manifest.json").write_text(json.dumps({"libraries": {"widgets": entry}}))
    return folder


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under the folder's parent, so that leftovers beside it show up too."""
    root = folder.parent
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


RELEASE = tarball({"package/dist/widgets.min.js": SCRIPT, "package/LICENSE": LICENCE})


def test_committed_vendor_files_match_their_manifest():
    assert vendor.check(vendor.VENDOR) == []
    names = {library.package for library in vendor.load_manifest(vendor.VENDOR).values()}
    assert names == {"htmx.org", "@picocss/pico"}


def test_committed_pins_are_exact_2x_releases_with_licences():
    for library in vendor.load_manifest(vendor.VENDOR).values():
        major, minor, patch = library.version.split(".")
        assert major == "2"
        assert minor.isdigit()
        assert patch.isdigit()
        assert library.integrity.startswith("sha512-")
        assert (vendor.VENDOR / library.licence.destination).name == "LICENSE"


def test_a_tampered_file_fails_the_check_naming_it(tmp_path, capsys):
    copy = tmp_path / "vendor"
    shutil.copytree(vendor.VENDOR, copy)
    with (copy / "htmx" / "htmx.min.js").open("ab") as file:
        file.write(b"alert(1);")

    problems = vendor.check(copy)

    assert len(problems) == 1
    assert problems[0].startswith("htmx/htmx.min.js: sha256 differs")
    assert vendor.main(["--folder", str(copy), "check"]) == 1
    assert "htmx/htmx.min.js" in capsys.readouterr().err


def test_a_missing_licence_fails_the_check_naming_it(tmp_path, capsys):
    copy = tmp_path / "vendor"
    shutil.copytree(vendor.VENDOR, copy)
    (copy / "pico" / "LICENSE").unlink()

    assert vendor.check(copy) == ["pico/LICENSE: licence file of pico is missing"]
    assert vendor.main(["--folder", str(copy), "check"]) == 1
    assert "pico/LICENSE" in capsys.readouterr().err


def test_check_passes_on_an_untouched_copy(tmp_path, capsys):
    copy = tmp_path / "vendor"
    shutil.copytree(vendor.VENDOR, copy)

    assert vendor.main(["--folder", str(copy), "check"]) == 0
    assert "2 libraries match" in capsys.readouterr().out


def test_fetch_verifies_the_tarball_and_writes_only_the_listed_files(tmp_path, registry):
    folder = pinned_folder(tmp_path / "vendor", "1.0.0", RELEASE)
    registry.publish({"1.0.0": RELEASE})
    lines: list[str] = []

    vendor.fetch(folder, registry=registry.url, progress=lines.append)

    assert (folder / "widgets" / "widgets.min.js").read_bytes() == SCRIPT
    assert (folder / "widgets" / "LICENSE").read_bytes() == LICENCE
    assert sorted(p.name for p in (folder / "widgets").iterdir()) == ["LICENSE", "widgets.min.js"]
    assert vendor.check(folder) == []
    assert any("integrity verified" in line for line in lines)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vendor"]  # no staging left


TAMPERED = tarball({"package/dist/widgets.min.js": b"evil()", "package/LICENSE": LICENCE})


@pytest.mark.parametrize(
    ("published", "announced"),
    [
        # Republished: the tarball matches the registry's metadata, but not the pin.
        (TAMPERED, vendor.sri_sha512(TAMPERED)),
        # The metadata agrees with the pin, but the tarball served is another one.
        (TAMPERED, vendor.sri_sha512(RELEASE)),
    ],
    ids=["registry-differs-from-pin", "tarball-differs-from-integrity"],
)
def test_fetch_with_a_wrong_integrity_changes_nothing(tmp_path, registry, published, announced):
    folder = pinned_folder(tmp_path / "vendor", "1.0.0", RELEASE)
    (folder / "widgets").mkdir()
    (folder / "widgets" / "widgets.min.js").write_bytes(SCRIPT)
    registry.publish({"1.0.0": published}, integrity={"1.0.0": announced})
    before = snapshot(folder)

    with pytest.raises(vendor.VendorError, match="integrity") as error:
        vendor.fetch(folder, registry=registry.url, progress=lambda line: None)

    assert "\n" not in str(error.value)
    assert snapshot(folder) == before


def test_fetch_refuses_a_file_whose_sha256_differs_from_the_manifest(tmp_path, registry):
    folder = pinned_folder(tmp_path / "vendor", "1.0.0", RELEASE)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["libraries"]["widgets"]["files"][0]["sha256"] = "0" * 64
    (folder / "manifest.json").write_text(json.dumps(manifest))
    registry.publish({"1.0.0": RELEASE})
    before = snapshot(folder)

    with pytest.raises(vendor.VendorError, match=r"widgets/widgets\.min\.js: sha256"):
        vendor.fetch(folder, registry=registry.url, progress=lambda line: None)
    assert snapshot(folder) == before


def test_update_bumps_the_pin_and_rewrites_the_manifest(tmp_path, registry):
    folder = pinned_folder(tmp_path / "vendor", "1.0.0", RELEASE)
    newer_script = b"/* widgets 1.1.0 */\n"
    newer = tarball({"package/dist/widgets.min.js": newer_script, "package/LICENSE": LICENCE})
    registry.publish({"1.0.0": RELEASE, "1.1.0": newer})

    vendor.update(folder, "widgets", "1.1.0", registry=registry.url, progress=lambda line: None)

    library = vendor.load_manifest(folder)["widgets"]
    assert library.version == "1.1.0"
    assert library.integrity == vendor.sri_sha512(newer)
    assert library.files[0].sha256 == hashlib.sha256(newer_script).hexdigest()
    assert (folder / "widgets" / "widgets.min.js").read_bytes() == newer_script
    assert vendor.check(folder) == []


@pytest.mark.parametrize(
    ("name", "version", "message"),
    [
        ("nope", "1.0.0", "unknown library 'nope'; manifest.json has widgets"),
        ("widgets", "9.9.9", "@acme/widgets has no version '9.9.9' (latest is 1.0.0)"),
    ],
)
def test_update_with_bad_input_gives_one_line_and_changes_nothing(
    tmp_path, registry, capsys, name, version, message
):
    folder = pinned_folder(tmp_path / "vendor", "1.0.0", RELEASE)
    registry.publish({"1.0.0": RELEASE})
    before = snapshot(folder)

    code = vendor.main(
        ["--folder", str(folder), "--registry", registry.url, "update", name, version]
    )

    assert code == 1
    assert capsys.readouterr().err == f"vendor: error: {message}\n"
    assert snapshot(folder) == before


def test_a_destination_outside_the_vendor_folder_is_refused(tmp_path):
    folder = pinned_folder(tmp_path / "vendor", "1.0.0", RELEASE)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["libraries"]["widgets"]["licence"]["to"] = "../../LICENSE"
    (folder / "manifest.json").write_text(json.dumps(manifest))

    with pytest.raises(vendor.VendorError, match="leaves the vendor folder"):
        vendor.load_manifest(folder)


def test_readme_names_every_pinned_version():
    """The table in README.md is edited by hand after an `update`; this keeps it honest."""
    readme = (vendor.VENDOR / "README.md").read_text()
    for library in vendor.load_manifest(vendor.VENDOR).values():
        row = rf"\| `{re.escape(library.package)}` +\| {re.escape(library.version)} +\|"
        assert re.search(row, readme), f"README.md: no table row for {library.package}"
