"""Kanban boards of the plugins' workflows, at ``/boards/<workflow>``: one column per state,
a card per record, and on each card the transitions its user may take now. A card moves only
through ``runtime.workflows.transition``; rows are read only through the request's session,
so the access table decides which cards a board holds (DESIGN rules 3 and 4)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from accord.core.contributions import MenuItem
from accord.core.workflow import Available, WorkflowEngine
from accord.core.workflow.build import Machine
from accord.ui.site import Site, flash, may_read
from accord.ui.templating import wants_fragment
from accord.ui.transitions import attempt
from accord.ui.viewable import primary_key, typed_id

COLUMN_CAP = 50
"""Cards shown per column; the rest are counted ("12 more")."""
COUNT_CAP = 1000
"""Beyond this many records a column says "more than 1,000" instead of counting them all."""
TITLE_COLUMNS = ("name", "title", "subject", "body")
"""A card's title is the first of these columns its model has, or else ``#<id>``."""
TITLE_LENGTH = 80
BOARD_BLOCK = "board"
"""The block of board/board.html that an htmx transition gets back."""
MENU_ORDER = 960


def humanize(name: str) -> str:
    """``dummy.note`` → ``Dummy note``, ``in_review`` → ``In review``."""
    return name.replace(".", " ").replace("_", " ").strip().capitalize()


@dataclass(frozen=True)
class Board:
    """A workflow shown as a board: its machine and how its cards are read."""

    machine: Machine
    title: str

    @property
    def name(self) -> str:
        return self.machine.workflow.name

    @property
    def path(self) -> str:
        return f"/boards/{self.name}"

    @property
    def key(self) -> InstrumentedAttribute[Any]:
        return primary_key(self.machine.model)

    @property
    def state(self) -> InstrumentedAttribute[Any]:
        attribute: InstrumentedAttribute[Any] = getattr(
            self.machine.model, self.machine.workflow.state_field
        )
        return attribute

    def record_id(self, text: str) -> Any:
        return typed_id(self.key, text, "There is no such record.")


def boards_of(site: Site) -> dict[str, Board]:
    return {
        name: Board(machine, humanize(name))
        for name, machine in site.runtime.workflows.machines.items()
    }


def with_board_menu(site: Site) -> Site:
    """``site`` with a menu entry per board, shown to users who may read its model."""
    items = [
        MenuItem(
            f"boards.{board.name}",
            f"{board.title} board",
            board.path,
            order=MENU_ORDER,
            model=board.machine.table,
        )
        for board in boards_of(site).values()
    ]
    menu = sorted((*site.menu, *items), key=lambda item: (item.section, item.order, item.label))
    return dataclasses.replace(site, menu=tuple(menu))


# --- reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Card:
    id: Any
    title: str
    actions: tuple[Available, ...]


@dataclass(frozen=True)
class Column:
    state: str
    label: str
    cards: tuple[Card, ...]
    count: int
    capped: bool

    @property
    def more(self) -> int:
        return self.count - len(self.cards)


def card_title(record: Any, record_id: Any) -> str:
    for name in TITLE_COLUMNS:
        value = getattr(record, name, None)
        if isinstance(value, str) and value.strip():
            text = " ".join(value.split())
            return text if len(text) <= TITLE_LENGTH else text[: TITLE_LENGTH - 1] + "…"
    return f"#{record_id}"


def read_board(session: Session, board: Board, workflows: WorkflowEngine) -> list[Column]:
    """Each state's newest records and their capped count, read through the user's session;
    each card with the transitions of this workflow the user may take now."""
    columns: list[Column] = []
    key, state = board.key, board.state
    for name in board.machine.workflow.states:
        statement = select(board.machine.model).where(state == name)
        rows = list(session.scalars(statement.order_by(key.desc()).limit(COLUMN_CAP)))
        counted = select(key).where(state == name).limit(COUNT_CAP + 1).subquery()
        count = session.scalar(select(func.count()).select_from(counted)) or 0
        cards = []
        for row in rows:
            row_id = getattr(row, key.key)
            actions = tuple(
                action
                for action in workflows.available(session, row)
                if action.workflow == board.name and action.allowed
            )
            cards.append(Card(row_id, card_title(row, row_id), actions))
        columns.append(
            Column(name, humanize(name), tuple(cards), min(count, COUNT_CAP), count > COUNT_CAP)
        )
    return columns


@dataclass(frozen=True)
class Refusal:
    """Why a move did not happen, shown on its card (or above the board if the card is gone)."""

    record_id: Any
    transition: str
    message: str
    inputs: Mapping[str, str]


# --- pages ----------------------------------------------------------------------------------


def routes(site: Site) -> list[BaseRoute]:
    boards = boards_of(site)
    workflows = site.runtime.workflows

    def find(request: Request) -> Board:
        board = boards.get(request.path_params["workflow"])
        if board is None:
            raise HTTPException(404, "There is no such board.")
        if not may_read(request.state.principal, board.machine.table):
            raise HTTPException(403, f"You may not see the board {board.title!r}.")
        return board

    def render(
        request: Request,
        board: Board,
        status: int = 200,
        refusal: Refusal | None = None,
        toast: str | None = None,
    ) -> Response:
        session: Session = request.state.session
        columns = read_board(session, board, workflows)
        placed = refusal is not None and any(
            card.id == refusal.record_id for column in columns for card in column.cards
        )
        values = {
            "board": board,
            "columns": columns,
            "refusal": refusal,
            "refusal_placed": placed,
            "toast": toast,
            "humanize": humanize,
        }
        return site.page(request, "board/board.html", values, status, fragment=BOARD_BLOCK)

    def board_page(request: Request) -> Response:
        return render(request, find(request))

    async def move(request: Request) -> Response:
        form = await request.form()
        return await run_in_threadpool(make_move, request, form)

    def make_move(request: Request, form: FormData) -> Response:
        board = find(request)
        name = request.path_params["transition"]
        step = board.machine.steps.get(name)
        if step is None:
            raise HTTPException(404, "This board has no such move.")
        record_id = board.record_id(request.path_params["record_id"])
        inputs = {key: str(form.get(key) or "").strip() for key in step.transition.required_inputs}
        session: Session = request.state.session
        # Read through the user's session: a record they may not read is not found.
        record = session.scalars(select(board.machine.model).where(board.key == record_id)).first()
        if record is None:
            raise HTTPException(404, "There is no such record, or you may not see it.")
        label = humanize(name)
        # A refusal answers with an error status, which rolls the unit of work back (the
        # rollback in attempt() comes first so the board is read afresh); the template
        # tells htmx to swap these statuses too, so the reason shows on the card.
        refused = attempt(session, workflows, record, name, inputs, label, "the board")
        if refused is not None:
            status, message = refused
            return render(request, board, status, Refusal(record_id, name, message, inputs))
        target = humanize(step.transition.target).lower()
        done = f"{card_title(record, record_id)}: {label.lower()} done, now {target}."
        if wants_fragment(request):
            return render(request, board, toast=done)
        flash(request, done)
        return RedirectResponse(board.path, status_code=303)

    return [
        Route("/boards/{workflow:str}", board_page, name="board"),
        Route(
            "/boards/{workflow:str}/{record_id:str}/{transition:str}",
            move,
            methods=["POST"],
            name="board_move",
        ),
    ]


__all__ = ["Board", "routes", "with_board_menu"]
