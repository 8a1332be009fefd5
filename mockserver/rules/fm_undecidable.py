"""F/M catalogue codes the mock does not decide, each with the reason (shown by ``sevis-mock codes``).

``UNDECIDABLE``: codes whose condition depends on data SEVIS holds that a batch cannot carry, or that
cannot be reached at all because the schema refuses the input first (the upload fails with S0013).
``UNPUBLISHED``: codes decidable in principle whose condition the catalogue states without saying which
fields or events it concerns, and which SEVIS's lookup tables do not settle either; guessing would refuse
records SEVIS accepts, so the mock does not answer them.
"""

from __future__ import annotations

SEVIS_DATA = "depends on data SEVIS holds that a batch cannot carry: "
SCHEMA = "cannot be reached: the schema refuses the input first (upload S0013): "

UNDECIDABLE = {
    "S1026": SCHEMA + "OrgID must match [A-Z]{3}214F\\d{8}, which always carries the campus digits",
    "S1048": SCHEMA + "the BatchHeader OrgID (the school code) is required",
    "S1058": SCHEMA + "CitizenshipCountryCode (CntryCodeWithoutType) does not list US",
    "S1082": SEVIS_DATA + "the student's records at other schools (SEVIS-wide identity matching)",
    "S1090": SEVIS_DATA + "transfer-in records, created by a SEVIS transfer release, not by a batch",
    "S1092": SEVIS_DATA + "the student's arrival in the U.S. (CBP admission records)",
    "S1094": SEVIS_DATA + "the dependent's arrival in the U.S. (CBP admission records)",
    "S1098": SEVIS_DATA + "pending transfer requests, made in SEVIS, not by a batch",
    "S1102": SEVIS_DATA + "the student's record at the previous education level, which the batch does not identify",
    "S1109": SEVIS_DATA + "the school's withdrawal, appeal and access-termination status",
    "S1110": SEVIS_DATA + "pending extension requests adjudicated by SEVP/USCIS",
    "S1118": SEVIS_DATA + "transfer-in records, created by a SEVIS transfer release, not by a batch",
    "S1120": SEVIS_DATA + "the student's arrival in the U.S. (CBP admission records)",
    "S1124": SEVIS_DATA + "USCIS approval of the post-completion OPT (EAD adjudication)",
    "S1130": SEVIS_DATA + "the status of the OPT extension request as adjudicated by USCIS",
    "S1131": SEVIS_DATA + "USCIS approval of the STEM OPT extension that opens six-month reporting",
    "S1133": SEVIS_DATA + "change-of-status petitions (F-1 to H-1B) filed with USCIS",
    "S1139": SEVIS_DATA + "the DHS STEM Designated Degree Program List, which the mock does not carry",
    "S1140": SEVIS_DATA + "the H-1B cap-gap window and petition filings with USCIS",
    "S1169": SEVIS_DATA + "the USCIS adjudication state of the OPT that locks it against update",
}

UNPUBLISHED = {
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
