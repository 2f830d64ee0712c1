"""The seed of the site's holiday calendar: China's public holidays and make-up working days (调休), per year.

Only the days that differ from an ordinary week are listed: a "holiday" is a day off (weekend days inside a holiday
block are listed too, so the console shows the whole block), a "workday" is a weekend day worked to make up for one.
Admins keep the calendar in the console; this is only what a new database starts with.
"""

from datetime import date, timedelta

HOLIDAY, WORKDAY = "holiday", "workday"


def _days(first: str, last: str, kind: str, name_zh: str, name_en: str) -> list[tuple[date, str, str, str]]:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return [(start + timedelta(days=n), kind, name_zh, name_en) for n in range((end - start).days + 1)]


def _workday(day: str, name_zh: str, name_en: str) -> list[tuple[date, str, str, str]]:
    return _days(day, day, WORKDAY, name_zh + "调休上班", name_en + " make-up working day")


# 2026: the State Council's notice (国务院办公厅关于2026年部分节假日安排的通知).
_2026 = [
    *_days("2026-01-01", "2026-01-03", HOLIDAY, "元旦", "New Year's Day"),
    *_workday("2026-01-04", "元旦", "New Year's Day"),
    *_workday("2026-02-14", "春节", "Spring Festival"),
    *_days("2026-02-15", "2026-02-23", HOLIDAY, "春节", "Spring Festival"),
    *_workday("2026-02-28", "春节", "Spring Festival"),
    *_days("2026-04-04", "2026-04-06", HOLIDAY, "清明节", "Qingming Festival"),
    *_days("2026-05-01", "2026-05-05", HOLIDAY, "劳动节", "Labour Day"),
    *_workday("2026-05-09", "劳动节", "Labour Day"),
    *_days("2026-06-19", "2026-06-21", HOLIDAY, "端午节", "Dragon Boat Festival"),
    *_workday("2026-09-20", "国庆节", "National Day"),
    *_days("2026-09-25", "2026-09-27", HOLIDAY, "中秋节", "Mid-Autumn Festival"),
    *_days("2026-10-01", "2026-10-07", HOLIDAY, "国庆节", "National Day"),
    *_workday("2026-10-10", "国庆节", "National Day"),
]

# 2027 is PROVISIONAL until the State Council's notice for 2027 is checked (it could not be found when this was
# written): the statutory days of 《全国年节及纪念日放假办法》 on the lunar dates (Spring Festival 02-06, Qingming
# 04-05, Dragon Boat 06-09, Mid-Autumn 09-15), a statutory day on a weekend made up on the next weekday(s), and no
# make-up working days (only the notice sets those).
_2027 = [
    *_days("2027-01-01", "2027-01-01", HOLIDAY, "元旦", "New Year's Day"),
    # New Year's Eve (Fri 02-05) to the 3rd day (Mon 02-08); Sat and Sun made up on Tue 02-09 and Wed 02-10.
    *_days("2027-02-05", "2027-02-10", HOLIDAY, "春节", "Spring Festival"),
    *_days("2027-04-05", "2027-04-05", HOLIDAY, "清明节", "Qingming Festival"),
    # May 1-2 fall on Sat and Sun: made up on Mon 05-03 and Tue 05-04.
    *_days("2027-05-01", "2027-05-04", HOLIDAY, "劳动节", "Labour Day"),
    *_days("2027-06-09", "2027-06-09", HOLIDAY, "端午节", "Dragon Boat Festival"),
    *_days("2027-09-15", "2027-09-15", HOLIDAY, "中秋节", "Mid-Autumn Festival"),
    # Oct 1-3: Fri to Sun; Sat and Sun made up on Mon 10-04 and Tue 10-05.
    *_days("2027-10-01", "2027-10-05", HOLIDAY, "国庆节", "National Day"),
]

# (day, kind, name_zh, name_en), in date order.
CALENDAR_DAYS: list[tuple[date, str, str, str]] = sorted(_2026 + _2027)
