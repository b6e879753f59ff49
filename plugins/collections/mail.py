"""The reminders' mail templates, one mail per customer and level listing its overdue
invoices; an integrator overrides one by its name, or points a dunning level at another
template (``[collections] dunning_levels``). Their variables: ``customer``, ``invoices``
(each with ``number``, ``issue_date``, ``due_date``, ``days_overdue``, ``amount``,
``balance``), ``count``, ``total``, ``level``, ``chaser``, ``chaser_email``; and, for a
template written for one invoice, the oldest invoice's ``invoice``, ``issue_date``,
``due_date``, ``days_overdue``, ``amount`` and ``balance``."""

from __future__ import annotations

from accord.api import MailTemplate

_OPEN = (
    "{% if count == 1 %}the following invoice is{% else %}the following {{ count }} "
    "invoices are{% endif %}"
)

_DETAILS = (
    "{% for item in invoices %}"
    "Invoice {{ item.number }}, issued {{ item.issue_date }}, due {{ item.due_date }} "
    "({{ item.days_overdue }} days ago): {{ item.balance }} still open of {{ item.amount }}\n"
    "{% endfor %}"
    "{% if count > 1 %}Still open in all: {{ total }}\n{% endif %}"
)

_SIGNATURE = """
If you have paid in the meantime, please ignore this message. For any question, reply to
this mail.

{{ chaser }}
"""

_WHICH = "{% if count == 1 %}invoice {{ invoice }} is{% else %}{{ count }} invoices are{% endif %}"

TEMPLATES = (
    MailTemplate(
        "collections.reminder_1",
        "Reminder: " + _WHICH + " overdue",
        "Dear {{ customer }},\n\nour records show that " + _OPEN + " still open after "
        "{% if count == 1 %}its due date{% else %}their due dates{% endif %}:\n\n"
        + _DETAILS
        + "\nWe would be grateful for your payment "
        "within the next days.\n" + _SIGNATURE,
    ),
    MailTemplate(
        "collections.reminder_2",
        "Second reminder: "
        + _WHICH
        + " {% if count > 1 %}up to {% endif %}{{ days_overdue }} days overdue",
        "Dear {{ customer }},\n\ndespite our first reminder, " + _OPEN + " still "
        "open:\n\n" + _DETAILS + "\nPlease pay within 7 days, or tell us what keeps "
        "{% if count == 1 %}it{% else %}them{% endif %} from being paid.\n" + _SIGNATURE,
    ),
    MailTemplate(
        "collections.final_notice",
        "Final notice: "
        + "{% if count == 1 %}invoice {{ invoice }}{% else %}{{ count }} invoices{% endif %}",
        "Dear {{ customer }},\n\n" + _OPEN + " unpaid after two reminders:"
        "\n\n" + _DETAILS + "\nUnless paid within 7 days, new orders will be held and "
        "we will have to take further steps.\n" + _SIGNATURE,
    ),
)
