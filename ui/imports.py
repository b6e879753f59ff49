"""Importing files from the browser, for every importer the plugins declare: upload, map
the columns, check (a dry run naming each bad row and column), then run in the background
while the page shows its progress through htmx polling, and end with the report.

An upload is kept in a folder of the machine's temporary directory until it is imported
(or for a day), named by a random token and tied to the user who sent it. The import runs
in a thread of the web process, through a session acting as that user, so the access
rules, the audit log and the outbox apply as for any change; its progress and report are
written next to the upload, so any worker process of the same machine can show them."""

from __future__ import annotations

import json
import logging
import os
import secrets
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from accord.core.access import AccessDeniedError, Principal
from accord.core.errors import AccordError
from accord.core.importing import (
    IGNORE,
    Importer,
    ImportReport,
    MappingError,
    Sheet,
    UnreadableFileError,
    guess,
    read_sheet,
    run_import,
)
from accord.core.runtime import Runtime
from accord.ui.site import Site

log = logging.getLogger("accord.ui")

KEEP_SECONDS = 24 * 3600
"""Uploads not imported are removed after a day."""
SAMPLE_ROWS = 3
PROGRESS_EVERY = 0.3
"""Seconds between two writes of an import's progress."""
ERRORS_SHOWN = 200
PROGRESS_BLOCK = "progress"


def uploads_folder(runtime: Runtime) -> Path:
    """One folder per configuration, so two apps on one machine keep their uploads apart."""
    name = f"accord-imports-{abs(hash(str(runtime.config_path))) % 10**8}"
    folder = Path(tempfile.gettempdir()) / name
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def may_use(principal: Principal, importer: Importer) -> bool:
    """Whether ``principal`` may import with ``importer``: its permission, and a create grant
    on its model (which rows it may create the access layer decides row by row)."""
    if principal.is_system:
        return True
    if importer.permission is not None and not principal.can(importer.permission):
        return False
    policy = principal.policy
    return policy is not None and policy.decide(principal.roles, importer.model, "create").allowed


@dataclass
class Upload:
    """A file sent for import, and what became of it (kept as JSON beside the file)."""

    folder: Path
    token: str
    importer: str
    user_id: int | None
    filename: str
    size: int
    state: str = "uploaded"  # uploaded, running, done, failed
    done: int = 0
    total: int = 0
    choices: dict[str, str] | None = None
    skip_bad_rows: bool = False
    report: dict[str, Any] | None = None
    error: str = ""

    @property
    def data_path(self) -> Path:
        return self.folder / f"{self.token}.upload"

    @property
    def meta_path(self) -> Path:
        return self.folder / f"{self.token}.json"

    def save(self) -> None:
        fields = {key: value for key, value in vars(self).items() if key != "folder"}
        temporary = self.meta_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(fields))
        os.replace(temporary, self.meta_path)

    def sheet(self) -> Sheet:
        return read_sheet(self.data_path.read_bytes(), self.filename)

    @classmethod
    def load(cls, folder: Path, token: str) -> Upload | None:
        if not token.replace("-", "").replace("_", "").isalnum():
            return None
        try:
            fields = json.loads((folder / f"{token}.json").read_text())
        except (OSError, ValueError):
            return None
        return cls(folder=folder, **fields)


def forget_old_uploads(folder: Path) -> None:
    limit = time.time() - KEEP_SECONDS
    for path in folder.iterdir():
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
        except OSError:
            continue


def megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def routes(site: Site) -> list[BaseRoute]:
    runtime = site.runtime
    importers = {
        item.name: item
        for item in runtime.pm.collect("accord_importers")
        if isinstance(item, Importer)
    }
    limit = runtime.settings.web.import_max_megabytes * 1_000_000

    def importer_for(request: Request) -> Importer:
        importer = importers.get(request.path_params["name"])
        if importer is None:
            raise HTTPException(404, "There is no such importer.")
        if not may_use(request.state.principal, importer):
            raise HTTPException(403, f"You may not import {importer.title.lower()}.")
        return importer

    def upload_for(request: Request, importer: Importer) -> Upload:
        upload = Upload.load(uploads_folder(runtime), request.path_params["token"])
        if (
            upload is None
            or upload.importer != importer.name
            or upload.user_id != request.state.principal.user_id
        ):
            raise HTTPException(404, "This upload is gone; send the file again.")
        return upload

    def index(request: Request) -> Response:
        usable = [item for item in importers.values() if may_use(request.state.principal, item)]
        return site.page(request, "import/index.html", {"importers": usable})

    async def upload_page(request: Request) -> Response:
        importer = importer_for(request)
        errors: dict[str, str] = {}
        if request.method == "POST":
            form = await request.form(max_files=1, max_fields=20, max_part_size=limit + 1024)
            upload, errors = await run_in_threadpool(receive, request, importer, form)
            if upload is not None:
                return RedirectResponse(f"/imports/{importer.name}/{upload.token}", 303)
        status = 400 if errors else 200
        values = {"importer": importer, "errors": errors, "limit": megabytes(limit)}
        return site.page(request, "import/upload.html", values, status_code=status)

    def receive(
        request: Request, importer: Importer, form: FormData
    ) -> tuple[Upload | None, dict[str, str]]:
        sent = form.get("file")
        if not isinstance(sent, UploadFile) or not sent.filename:
            return None, {"file": "Choose a CSV or XLSX file."}
        data = sent.file.read(limit + 1)
        if len(data) > limit:
            return None, {
                "file": f"{sent.filename} is larger than {megabytes(limit)}, the largest file "
                "this site accepts; split it in parts, or ask an administrator to import it "
                "with `accord import`."
            }
        try:
            read_sheet(data, sent.filename)
        except UnreadableFileError as error:
            return None, {"file": str(error)}
        folder = uploads_folder(runtime)
        forget_old_uploads(folder)
        upload = Upload(
            folder=folder,
            token=secrets.token_urlsafe(16),
            importer=importer.name,
            user_id=request.state.principal.user_id,
            filename=Path(sent.filename).name,
            size=len(data),
        )
        upload.data_path.write_bytes(data)
        upload.save()
        return upload, {}

    async def mapping_page(request: Request) -> Response:
        importer = importer_for(request)
        upload = upload_for(request, importer)
        if upload.state != "uploaded":
            return RedirectResponse(f"/imports/{importer.name}/{upload.token}/progress", 303)
        form = await request.form() if request.method == "POST" else None
        return await run_in_threadpool(check, request, importer, upload, form)

    def check(
        request: Request, importer: Importer, upload: Upload, form: FormData | None
    ) -> Response:
        sheet = upload.sheet()
        choices = chosen(sheet, form) if form is not None else None
        skip = form is not None and form.get("skip_bad_rows") == "on"
        report: ImportReport | None = None
        problems: list[str] = []
        if choices is not None:
            try:
                report = run_import(
                    request.state.session,
                    importer,
                    sheet,
                    choices=choices,
                    dry_run=True,
                    skip_bad_rows=skip,
                )
            except MappingError as error:
                problems = error.problems
            except AccessDeniedError as error:
                problems = [str(error)]
            upload.choices = choices
            upload.skip_bad_rows = skip
            upload.save()
        columns = [
            {
                "index": index,
                "header": header or f"(column {index + 1})",
                "field": (choices or {}).get(header, guess(importer, header) or IGNORE)
                if choices is not None
                else (guess(importer, header) or IGNORE),
                "samples": [
                    cells[index] for _, cells in sheet.rows[:SAMPLE_ROWS] if index < len(cells)
                ],
                "problems": [p for p in problems if header and repr(header) in p],
            }
            for index, header in enumerate(sheet.headers)
        ]
        values = {
            "importer": importer,
            "upload": upload,
            "sheet": sheet,
            "columns": columns,
            "problems": problems,
            "report": report,
            "errors_shown": ERRORS_SHOWN,
            "skip_bad_rows": skip,
        }
        return site.page(
            request, "import/mapping.html", values, status_code=400 if problems else 200
        )

    async def run(request: Request) -> Response:
        importer = importer_for(request)
        upload = upload_for(request, importer)
        form = await request.form()
        if upload.state != "uploaded" or upload.choices is None:
            return RedirectResponse(f"/imports/{importer.name}/{upload.token}/progress", 303)
        upload.skip_bad_rows = form.get("skip_bad_rows") == "on"
        upload.state = "running"
        upload.save()
        principal = request.state.principal
        thread = threading.Thread(
            target=run_in_background,
            args=(runtime, importer, upload, principal),
            name=f"import-{upload.token}",
            daemon=True,
        )
        thread.start()
        return RedirectResponse(f"/imports/{importer.name}/{upload.token}/progress", 303)

    def progress(request: Request) -> Response:
        importer = importer_for(request)
        upload = upload_for(request, importer)
        values = {"importer": importer, "upload": upload, "errors_shown": ERRORS_SHOWN}
        return site.page(request, "import/progress.html", values, fragment=PROGRESS_BLOCK)

    return [
        Route("/imports", index, name="imports"),
        Route("/imports/{name}", upload_page, methods=["GET", "POST"], name="import-upload"),
        Route(
            "/imports/{name}/{token}", mapping_page, methods=["GET", "POST"], name="import-mapping"
        ),
        Route("/imports/{name}/{token}/run", run, methods=["POST"], name="import-run"),
        Route("/imports/{name}/{token}/progress", progress, name="import-progress"),
    ]


def chosen(sheet: Sheet, form: FormData) -> dict[str, str]:
    """The user's choice of field for each column (``col-<index>`` of the mapping form)."""
    choices: dict[str, str] = {}
    for index, header in enumerate(sheet.headers):
        value = form.get(f"col-{index}")
        if header and isinstance(value, str):
            choices[header] = value or IGNORE
    return choices


def run_in_background(
    runtime: Runtime, importer: Importer, upload: Upload, principal: Principal
) -> None:
    """The import itself, in its own unit of work acting as the user who asked for it."""
    last = 0.0

    def progress(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= PROGRESS_EVERY or done == total:
            upload.done, upload.total = done, total
            upload.save()
            last = now

    try:
        sheet = upload.sheet()
        upload.total = len(sheet.rows)
        upload.save()
        with runtime.db.session(
            principal, context=f"import:{upload.token}", writes=True
        ) as session:
            report = run_import(
                session,
                importer,
                sheet,
                choices=upload.choices,
                skip_bad_rows=upload.skip_bad_rows,
                progress=progress,
            )
        upload.report = report.as_dict()
        upload.report["summary"] = report.summary()
        upload.state = "done"
    except (AccordError, AccessDeniedError) as error:
        upload.state, upload.error = "failed", str(error)
    except Exception:
        log.exception("import %s of %s failed", upload.token, upload.filename)
        upload.state, upload.error = (
            "failed",
            "The import failed unexpectedly; nothing was written.",
        )
    upload.done = upload.total
    upload.save()
    if upload.state == "done":
        upload.data_path.unlink(missing_ok=True)
