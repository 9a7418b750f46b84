# The portal's Korean date formats: Django's Korean ones, with a 24-hour clock.
DATETIME_FORMAT = "Y년 n월 j일 H:i:s"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
SHORT_DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "H:i"
