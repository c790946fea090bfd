// A 差评 case's deadline as a Chinese office writes it. A step is due by the end of its day, which the server
// gives as the midnight after it ("2026-12-08T00:00:00+08:00"); "12-08 00:00" read as the morning of the 8th, a
// day late. So a deadline at midnight is said as the end of the day before: "12月7日24:00前" ("by end of 7 Dec").
import { t } from "/assets/floor/hallq.js";

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** The deadline of an ISO time with the hall's offset, as the hall's clock reads it; "—" for none. */
export function dueText(iso) {
  if (!iso) return "—";
  const [year, month, day] = iso.slice(0, 10).split("-").map(Number);
  const time = iso.slice(11, 16);
  if (time === "00:00") {
    const before = new Date(Date.UTC(year, month - 1, day - 1)); // the calendar day before, whatever its month
    const m = before.getUTCMonth();
    const d = before.getUTCDate();
    return t(`${m + 1}月${d}日24:00前`, `by end of ${d} ${MONTHS[m]}`);
  }
  return t(`${month}月${day}日${time}前`, `by ${time}, ${day} ${MONTHS[month - 1]}`);
}
