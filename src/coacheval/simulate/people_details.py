"""Synthetic personal details of the kind HR extracts carry: names, e-mail, phone, demographics.

All names are drawn from short generic lists and all e-mail domains end in ``.example`` and
phone numbers use the 555-01xx range reserved for fiction, so nothing can match a real person.
These columns exist so that coacheval's privacy layer has something real to remove.

Part of the simulator's engine, called by
:func:`~coacheval.simulate.simulate_health_system`: the module has no public API (the public
names are those :mod:`coacheval.simulate` exports), so its ``__all__`` is empty.
"""

from __future__ import annotations

import numpy as np

from coacheval.simulate.streams import Streams

__all__: list[str] = []

FIRST_NAMES = (
    "Aisha",
    "Alejandra",
    "Amanda",
    "Angela",
    "Ashley",
    "Beatriz",
    "Brandon",
    "Brianna",
    "Carmen",
    "Chloe",
    "Christopher",
    "Daniel",
    "Danielle",
    "Deborah",
    "Diana",
    "Emily",
    "Erin",
    "Fatima",
    "Gabriela",
    "Grace",
    "Hannah",
    "Jamal",
    "Jasmine",
    "Jennifer",
    "Jessica",
    "José",
    "Kayla",
    "Keisha",
    "Kimberly",
    "Latoya",
    "Laura",
    "Lauren",
    "Linh",
    "Lisa",
    "Maria",
    "Megan",
    "Melissa",
    "Michael",
    "Michelle",
    "Nicole",
    "Olivia",
    "Patricia",
    "Priya",
    "Rachel",
    "Rebecca",
    "Renée",
    "Samantha",
    "Sarah",
    "Stephanie",
    "Tamika",
    "Tiffany",
    "Vanessa",
    "Wei",
    "Yolanda",
    "Zoë",
)
LAST_NAMES = (
    "Adams",
    "Alvarez",
    "Anderson",
    "Baker",
    "Brooks",
    "Brown",
    "Campbell",
    "Chen",
    "Clark",
    "Collins",
    "Cruz",
    "Davis",
    "Diaz",
    "Edwards",
    "Evans",
    "Flores",
    "Garcia",
    "Gomez",
    "Green",
    "Hall",
    "Harris",
    "Hernández",
    "Hill",
    "Jackson",
    "James",
    "Johnson",
    "Kim",
    "King",
    "Lee",
    "Lewis",
    "Lopez",
    "Martin",
    "Martinez",
    "Mitchell",
    "Moore",
    "Morales",
    "Nguyen",
    "O'Brien",
    "Patel",
    "Perez",
    "Phillips",
    "Ramirez",
    "Reyes",
    "Rivera",
    "Roberts",
    "Robinson",
    "Sanchez",
    "Scott",
    "Smith",
    "Taylor",
    "Thomas",
    "Thompson",
    "Torres",
    "Tran",
    "Walker",
    "Washington",
    "White",
    "Williams",
    "Wilson",
    "Wright",
    "Young",
)
AREA_CODES = ("312", "414", "608", "612", "715", "763", "920", "952")
EMAIL_DOMAIN = "riverbendhealth.example"

GENDERS = ("Female", "Male", "Nonbinary", "Not disclosed")
GENDER_P = (0.86, 0.125, 0.005, 0.01)  # [S/U] nursing workforce ~88% female
RACE = (
    "White",
    "Black or African American",
    "Hispanic or Latino",
    "Asian",
    "Two or more races",
    "American Indian or Alaska Native",
    "Not disclosed",
)
RACE_P = (0.69, 0.10, 0.07, 0.08, 0.025, 0.005, 0.03)  # [U] US RN workforce mix
DEGREES = ("ADN", "BSN", "MSN", "DNP")
DEGREE_P_BY_ROLE = (
    (0.20, 0.70, 0.10, 0.00),
    (0.10, 0.65, 0.25, 0.00),
    (0.02, 0.43, 0.50, 0.05),
    (0.00, 0.10, 0.70, 0.20),
)


def _pick(
    u: np.ndarray, options: tuple[str, ...], probs: tuple[float, ...] | None = None
) -> np.ndarray:
    if probs is None:
        idx = np.minimum((u * len(options)).astype(int), len(options) - 1)
    else:
        idx = np.minimum(np.searchsorted(np.cumsum(probs), u, side="right"), len(options) - 1)
    return np.asarray(options, dtype=object)[idx]


def personal_details(
    streams: Streams, pid: np.ndarray, role_rank: np.ndarray
) -> dict[str, np.ndarray]:
    """Names, work e-mail, phone and demographics for each person (keyed by ``pid``).

    Examples
    --------
    >>> d = personal_details(Streams(1), np.arange(2), np.array([0, 3]))
    >>> sorted(d)[:3]
    ['email', 'first_name', 'gender']
    """
    first = _pick(streams.uniform("first_name", pid), FIRST_NAMES)
    last = _pick(streams.uniform("last_name", pid), LAST_NAMES)
    number = (streams.uniform("email_number", pid) * 90 + 10).astype(int)
    email = np.array(
        [
            f"{f.lower()}.{s.lower().replace(' ', '').replace(chr(39), '')}{n}@{EMAIL_DOMAIN}"
            for f, s, n in zip(first, last, number, strict=True)
        ],
        dtype=object,
    )
    area = _pick(streams.uniform("area_code", pid), AREA_CODES)
    line = (streams.uniform("phone", pid) * 100).astype(int)
    phone = np.array(
        [f"({a}) 555-01{x:02d}" for a, x in zip(area, line, strict=True)], dtype=object
    )
    gender = _pick(streams.uniform("gender", pid), GENDERS, GENDER_P)
    race = _pick(streams.uniform("race", pid), RACE, RACE_P)
    u_deg = streams.uniform("degree", pid)
    degree = np.empty(len(pid), dtype=object)
    for r, probs in enumerate(DEGREE_P_BY_ROLE):
        sel = role_rank == r
        degree[sel] = _pick(u_deg[sel], DEGREES, probs)
    return {
        "first_name": first,
        "last_name": last,
        "email": email,
        "phone": phone,
        "gender": gender,
        "race_ethnicity": race,
        "highest_degree": degree,
    }
