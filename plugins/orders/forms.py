"""The offer and order forms: a new offer or order (``/orders/new/offer``), and the lines of
a draft offer or order changed (``/orders/offers/<id>/edit``, ``/orders/orders/<id>/edit``).
Lines are a table the kernel's generated forms do not make, hence this plugin's own form.
Each wrong entry gets its message next to its field and the answer is 422 with nothing
saved; the write goes through the user's session, so the access layer decides who may."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from accord.api import AccessDeniedError, AccordError, Partner, Principal, runtime_of
from accord.ui.site import flash, page

from .models import Offer, OfferLine, Order, OrderLine, Product
from .offers import LineInput, change_offer, create_offer
from .ordering import change_order, create_order

LINE_ROWS = 5
"""Empty rows a new form offers; an edited one offers two more than it has lines."""
MAX_ROWS = 200
KINDS = ("offer", "order")
WRITE = {"offer": "orders.offers.write", "order": "orders.orders.write"}


@dataclass
class LinesForm:
    """What the form shows again: the entered texts and the messages by field name
    (``quantity_2``), or for the whole form (``problem``)."""

    texts: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    problem: str = ""
    rows: int = LINE_ROWS
    refused: bool = False
    """The access layer refused the write (403), rather than the input being wrong."""

    def text(self, name: str) -> str:
        return self.texts.get(name, "")


def number(form: LinesForm, name: str, what: str) -> Decimal | None:
    """The decimal typed in ``name`` (a comma is a decimal point), ``None`` when empty; a
    message next to the field when it is not a number."""
    raw = form.text(name)
    text = raw.replace(",", ".")
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        form.errors[name] = f"{what}: {raw!r} is not a number"
        return None
    return value


def read_lines(form: LinesForm, products: Mapping[int, Product]) -> list[LineInput]:
    """The filled rows as lines; a message next to every wrong entry."""
    lines: list[LineInput] = []
    for row in range(1, form.rows + 1):
        product_raw = form.text(f"product_{row}")
        description = form.text(f"description_{row}")
        if not (product_raw or description):
            continue
        where = f"Line {row}"
        product_id = int(product_raw) if product_raw.isdigit() else None
        if product_raw and (product_id is None or product_id not in products):
            form.errors[f"product_{row}"] = f"{where}: no such product in the catalogue"
        quantity = number(form, f"quantity_{row}", f"{where}, quantity")
        if quantity is None and f"quantity_{row}" not in form.errors:
            form.errors[f"quantity_{row}"] = f"{where}: give a quantity"
        elif quantity is not None and quantity <= 0:
            form.errors[f"quantity_{row}"] = f"{where}: the quantity must be more than 0"
        price = number(form, f"price_{row}", f"{where}, unit price")
        if price is not None and price < 0:
            form.errors[f"price_{row}"] = f"{where}: the unit price must not be negative"
        if product_id is None and price is None and f"price_{row}" not in form.errors:
            form.errors[f"price_{row}"] = f"{where}: a line without a product needs a unit price"
        discount = number(form, f"discount_{row}", f"{where}, discount")
        if discount is not None and not Decimal(0) <= discount <= Decimal(100):
            form.errors[f"discount_{row}"] = f"{where}: the discount is between 0 and 100 %"
        if quantity is not None and quantity > 0:
            lines.append(
                LineInput(
                    quantity=quantity,
                    product_id=product_id,
                    description=description,
                    unit_price=price,
                    discount_percent=discount or Decimal("0"),
                )
            )
    if not lines and not form.errors:
        form.problem = "Add at least one line: a product, or a description with a price."
    return lines


def submitted(form_data: FormData) -> LinesForm:
    form = LinesForm(texts={key: str(value).strip() for key, value in form_data.items()})
    rows = form.text("rows")
    form.rows = min(int(rows), MAX_ROWS) if rows.isdigit() else LINE_ROWS
    return form


def catalogue(session: Session, record: Offer | Order | None = None) -> dict[int, Product]:
    """The products a line may name: the active ones, and those the record's lines name
    already (an edited draft keeps a product taken out of the catalogue since)."""
    kept = [line.product_id for line in record.lines if line.product_id] if record else []
    products = session.scalars(
        select(Product)
        .where(or_(Product.active.is_(True), Product.id.in_(kept)))
        .order_by(Product.sku)
    ).all()
    return {product.id: product for product in products}


def filled(lines: Sequence[OfferLine | OrderLine]) -> LinesForm:
    """The form of a draft's lines as they are, with two empty rows to add more."""
    form = LinesForm(rows=len(lines) + 2)
    for row, line in enumerate(lines, start=1):
        form.texts |= {
            f"product_{row}": str(line.product_id or ""),
            f"description_{row}": "" if line.product_id else line.description,
            f"quantity_{row}": f"{line.quantity.normalize():f}",
            f"price_{row}": f"{line.unit_price:.2f}",
            f"discount_{row}": f"{line.discount_percent.normalize():f}"
            if line.discount_percent
            else "",
        }
    return form


def show(
    request: Request, kind: str, form: LinesForm, record: Any = None, status: int = 200
) -> Response:
    session: Session = request.state.session
    values: dict[str, Any] = {
        "kind": kind,
        "form": form,
        "record": record,
        "products": list(catalogue(session, record).values()),
        "customers": []
        if record is not None
        else session.execute(
            select(Partner.id, Partner.name).order_by(Partner.name).limit(500)
        ).all(),
        "customer": session.get(Partner, record.partner_id) if record is not None else None,
    }
    return page(request, "orders/new.html", values, status_code=status)


def saved(
    request: Request,
    form: LinesForm,
    save: Callable[[list[LineInput]], int],
    kind: str,
    record: Offer | Order | None = None,
) -> int | None:
    """Read the lines and, with no message, save them in a savepoint; ``None`` and the
    form's messages otherwise, with nothing saved."""
    session: Session = request.state.session
    lines = read_lines(form, catalogue(session, record))
    if form.errors or form.problem:
        return None
    try:
        with session.begin_nested():
            return save(lines)
    except AccessDeniedError:
        form.refused = True
        form.problem = (
            f"Your roles do not let you save this {kind} (it would be outside what you may "
            "change). Nothing was saved."
        )
    except AccordError as error:
        form.problem = f"{str(error)[:1].upper()}{str(error)[1:]}. Nothing was saved."
    return None


def new_values(request: Request, kind: str, form: LinesForm) -> Response:
    session: Session = request.state.session
    principal: Principal = request.state.principal
    if not principal.can(WRITE[kind]):
        raise HTTPException(403, f"You may not make {kind}s.")
    if request.method == "GET":
        form.texts = {key: value.strip() for key, value in request.query_params.items()}
        return show(request, kind, form)
    partner_raw = form.text("partner_id")
    partner_id = int(partner_raw) if partner_raw.isdigit() else None
    if partner_id is None or session.get(Partner, partner_id) is None:
        form.errors["partner_id"] = "Choose the customer."

    def save(lines: list[LineInput]) -> int:
        assert partner_id is not None
        runtime = runtime_of(session)
        if kind == "offer":
            note = form.text("note")
            return create_offer(runtime, session, partner_id=partner_id, lines=lines, note=note).id
        return create_order(runtime, session, partner_id=partner_id, lines=lines).id

    made = saved(request, form, save, kind)
    if made is None:
        status = 403 if form.refused else 422
        return show(request, kind, form, status=status)
    flash(request, f"The {kind} is saved as a draft.")
    return RedirectResponse(f"/orders/{kind}s/{made}", status_code=303)


async def new_document(request: Request) -> Response:
    kind = request.path_params["kind"]
    if kind not in KINDS:
        raise HTTPException(404)
    form = submitted(await request.form()) if request.method == "POST" else LinesForm()
    return await run_in_threadpool(new_values, request, kind, form)


def edit_values(request: Request, kind: str, form: LinesForm | None) -> Response:
    session: Session = request.state.session
    principal: Principal = request.state.principal
    record_id = int(request.path_params["record_id"])
    record = session.get(Offer, record_id) if kind == "offer" else session.get(Order, record_id)
    if record is None:
        raise HTTPException(404, f"There is no such {kind}, or you may not see it.")
    path = f"/orders/{kind}s/{record.id}"
    if not principal.can(WRITE[kind]):
        raise HTTPException(403, f"You may not change {kind}s.")
    if record.state != "draft":
        flash(request, f"The {kind} changes only in draft (it is {record.state}).", "error")
        return RedirectResponse(path, status_code=303)
    if form is None:
        form = filled(record.lines)
        form.texts["note"] = record.note if isinstance(record, Offer) else ""
        form.texts["version"] = str(record.version)
        return show(request, kind, form, record)
    if form.text("version") != str(record.version):
        form.problem = (
            f"This {kind} was changed by someone else since you opened the form. Your entries "
            "are kept below; reload it to see the change, then save again."
        )
        return show(request, kind, form, record, 409)

    def save(lines: list[LineInput]) -> int:
        if isinstance(record, Offer):
            change_offer(session, record, lines=lines, note=form.text("note"))
        else:
            change_order(session, record, lines)
        return record.id

    if saved(request, form, save, kind, record) is None:
        status = 403 if form.refused else 422
        # The lines as stored: the savepoint's rollback expired what the save changed.
        session.refresh(record)
        return show(request, kind, form, record, status)
    flash(request, f"The {kind}'s lines are saved.")
    return RedirectResponse(path, status_code=303)


async def edit_document(request: Request) -> Response:
    kind = request.path_params["kind"]
    if kind not in KINDS:
        raise HTTPException(404)
    form = submitted(await request.form()) if request.method == "POST" else None
    return await run_in_threadpool(edit_values, request, kind, form)
