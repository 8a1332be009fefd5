"""F/M catalogue codes the mock does not decide, each with the reason (shown by ``sevis-mock codes``).

``UNDECIDABLE``: codes that
cannot be reached at all because the schema refuses the input first (the upload fails with S0013).
``UNPUBLISHED``: codes decidable in principle whose condition the catalogue states without saying which
fields or events it concerns, and which SEVIS's lookup tables do not settle either; guessing would refuse
records SEVIS accepts, so the mock does not answer them.
"""

from __future__ import annotations

SCHEMA = "cannot be reached: the schema refuses the input first (upload S0013): "

UNDECIDABLE = {
    "S1026": SCHEMA + "OrgID must match [A-Z]{3}214F\\d{8}, which always carries the campus digits",
    "S1048": SCHEMA + "the BatchHeader OrgID (the school code) is required",
    "S1058": SCHEMA + "CitizenshipCountryCode (CntryCodeWithoutType) does not list US",
}

UNPUBLISHED = {
    "S1133": "a pending or approved change of status to H-1B is on the record (agency event ChangeOfStatus), but "
    "no table or published rule says which batch event it refuses",
    "S1122": "no lookup table or published rule says which fields SEVIS locks against update (S1097 covers the "
    "M-1 education fields the catalogue names)",
    "S1127": "no lookup table or published rule says which fields each visa type requires (S1138 covers F-1 "
    "secondary majors and minors)",
    "S1132": "no lookup table or published rule names the event that needs an ended program; guessing Status "
    "Complete would refuse completions SEVIS accepts",
}

# Reprint reasons (tables 12 and 23) are valid per visa class, but never refuse a schema-valid batch: the
# F/M reasons (01 travel: F-1, F-2, M-1, M-2 only; 02-04, 50) fit every F/M record and the J reasons (05,
# 12-14: J-1 and J-2 only) every J record, so no rule is needed. Reprint reason 53 has no meaning in table 12.
