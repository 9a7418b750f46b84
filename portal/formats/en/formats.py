# The portal's English date formats: Django's, but with a 24-hour clock (an
# on-call page read at 3 a.m. has no room for "a.m."/"p.m." doubts) and ISO
# dates in lists. Templates use these names, never a hard-coded pattern.
DATETIME_FORMAT = "j M Y, H:i:s"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
SHORT_DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "H:i"
