"""The ``@Bot report`` card: the figures the console's report page shows, in the room."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from babel.numbers import format_decimal

from cards.envelope import adaptive_card
from cards.markdown import card_text
from cards.request import TextLookup, language_of
from cards.times import exact_duration

if TYPE_CHECKING:  # records, for types only: cards import nothing that imports SQLAlchemy
    from store.reports import Report, Spread


def report_facts(report: Report, t: TextLookup) -> list[tuple[str, str]]:
    """The report's headline figures as (label, value) pairs, durations in words in the
    reader's language ("median 5 phút 55 giây / 90th percentile 9 phút")."""
    language = language_of(t)

    def spread(figure: Spread) -> str:
        return t(
            "report.spread",
            median=exact_duration(figure.median, language),
            p90=exact_duration(figure.p90, language),
        )

    score = "-"
    if report.score is not None:
        score = t(
            "report.score",
            score=format_decimal(report.score, "0.00", language),
            count=report.ratings,
        )
    return [
        (t("report.received"), str(report.received)),
        (t("report.accepted"), str(report.accepted)),
        (t("report.missed"), str(report.missed)),
        (t("report.time_to_accept"), spread(report.time_to_accept)),
        (t("report.time_to_first_reply"), spread(report.time_to_first_reply)),
        (t("report.handling"), spread(report.handling)),
        (t("report.satisfaction"), score),
        *target_facts(report, t),
    ]


def target_facts(report: Report, t: TextLookup) -> list[tuple[str, str]]:
    """The response targets' headline, once any wait under a target ended or breached: the
    share answered within target (with the counts it comes from) and the breaches."""
    figures = report.targets
    if figures is None or not (figures.answered or figures.breaches):
        return []
    share = figures.share_met
    within = (
        "-"
        if share is None
        else t(
            "report.within_target_value",
            share=round(share * 100),
            met=figures.met,
            answered=figures.answered,
        )
    )
    return [(t("report.within_target"), within), (t("report.breaches"), str(figures.breaches))]


def breach_facts(report: Report, t: TextLookup) -> list[tuple[str, str]]:
    """The breaches by owner and by hour, for the card (the console draws them as charts)."""
    figures = report.targets
    if figures is None or not figures.breaches:
        return []
    owners = [
        f"{card_text(name) if name else t('report.breach_nobody')} ({n})"
        for name, n in figures.by_agent[:5]
    ]
    hours = [f"{hour:02d}:00 ({n})" for hour, n in enumerate(figures.by_hour) if n]
    return [
        (t("report.breaches_by_agent"), ", ".join(owners)),
        (t("report.breaches_by_hour"), ", ".join(hours)),
    ]


def report_card(
    report: Report,
    t: TextLookup,
    *,
    department: str,
    period: str,
    url: str,
    zone: str,
) -> dict[str, Any]:
    """A FactSet of the figures, the best agents, and a button to the report page."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": t("report.title", department=card_text(department), period=period),
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
        },
        {
            "type": "FactSet",
            "facts": [
                {"title": label, "value": value}
                for label, value in report_facts(report, t) + breach_facts(report, t)
            ],
        },
        {
            "type": "TextBlock",
            "text": (t("report.median_p90_binned") if report.binned else t("report.median_p90"))
            + " "
            + t("report.zone", zone=zone),
            "isSubtle": True,
            "wrap": True,
        },
    ]
    if report.agents:
        body.append(
            {
                "type": "FactSet",
                "facts": [
                    {
                        "title": card_text(line.name),
                        "value": t(
                            "report.agent_line",
                            chats=line.chats,
                            score="-" if line.average is None else f"{line.average:.1f}",
                        ),
                    }
                    for line in report.agents[:5]
                ],
            }
        )
    return adaptive_card(body, [{"type": "Action.OpenUrl", "title": t("report.open"), "url": url}])
