"""F/M catalogue codes the mock does not decide, each with the reason (shown by ``sevis-mock codes``).

``UNDECIDABLE``: codes whose condition depends on data SEVIS holds that a batch cannot carry, or that
cannot be reached at all because the schema refuses the input first (the upload fails with S0013).
``UNPUBLISHED``: codes decidable in principle whose condition the catalogue states without saying which
code values or fields it concerns (the F/M code tables carry no descriptions); guessing would refuse
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
    "S1034": "the F/M code tables carry no descriptions, so which reason code means OTHER is unknown",
    "S1055": "which drop-below reason codes (DropBlwfullType 01-07) are allowed for which visa type",
    "S1060": "which termination reason codes are allowed for which visa type",
    "S1087": "which drop-below reasons are limited by which countries of citizenship",
    "S1122": "the catalogue does not say which fields are locked against update",
    "S1127": "the catalogue does not say which fields each visa type requires",
    "S1128": "which OPTCompletionType code means pre-completion OPT",
    "S1129": "which OPTCompletionType code means post-completion OPT",
    "S1132": "the catalogue does not say which event requires the program to have ended",
    "S1135": "what the cap-gap status codes C, F and T stand for, so which request it expects",
}
