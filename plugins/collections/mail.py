"""The reminders' mail templates; an integrator overrides one by its name, or points a
dunning level at another template (``[collections] dunning_levels``)."""

from __future__ import annotations

from accord.api import MailTemplate

_DETAILS = """\
Invoice:        {{ invoice }}
Issued:         {{ issue_date }}
Due:            {{ due_date }} ({{ days_overdue }} days ago)
Invoice amount: {{ amount }}
Still open:     {{ balance }}
"""

_SIGNATURE = """
If you have paid in the meantime, please ignore this message. For any question, reply to
this mail.

{{ chaser }}
"""

TEMPLATES = (
    MailTemplate(
        "collections.reminder_1",
        "Reminder: invoice {{ invoice }} is overdue",
        "Dear {{ customer }},\n\nour records show that the following invoice is still open "
        "after its due date:\n\n" + _DETAILS + "\nWe would be grateful for your payment "
        "within the next days.\n" + _SIGNATURE,
    ),
    MailTemplate(
        "collections.reminder_2",
        "Second reminder: invoice {{ invoice }} is {{ days_overdue }} days overdue",
        "Dear {{ customer }},\n\ndespite our first reminder, the following invoice is still "
        "open:\n\n" + _DETAILS + "\nPlease pay it within 7 days, or tell us what keeps it "
        "from being paid.\n" + _SIGNATURE,
    ),
    MailTemplate(
        "collections.final_notice",
        "Final notice: invoice {{ invoice }}",
        "Dear {{ customer }},\n\nthe following invoice remains unpaid after two reminders:"
        "\n\n" + _DETAILS + "\nUnless it is paid within 7 days, new orders will be held and "
        "we will have to take further steps.\n" + _SIGNATURE,
    ),
)
