package fieldbook.demo.android.ui

import java.time.Instant
import java.time.ZoneId
import java.time.format.DateTimeFormatter

private val shown = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm")

/** A time in the phone's zone, as reps read it (the library's times are UTC). */
fun Instant?.shown(): String = this?.atZone(ZoneId.systemDefault())?.format(shown) ?: "—"

/** The device id is a long hex string; its start is enough to tell two phones apart. */
fun String.shortDevice(): String = take(6)
