package fieldbook.demo

import fieldbook.Conflict
import java.time.Instant

/** One value a conflicted field holds, with who wrote it, as the banner offers it. */
data class ConflictChoice(
    val value: String,
    /** The value as read (a choice's label). */
    val display: String,
    val rep: String?,
    val device: String,
    val time: Instant?,
    /** Whether the card shows this value now (the merge's pick until someone decides). */
    val shown: Boolean,
)

data class ConflictField(val path: String, val label: String, val choices: List<ConflictChoice>)

/**
 * The banner over a card with open conflicts (两台设备同时修改了同一字段): every
 * conflicted field with each value attributed, so the rep chooses knowingly. Conflicts
 * are shown, never resolved silently: the merge picks a value to show meanwhile.
 */
data class ConflictBannerState(val fields: List<ConflictField>) {
    val title: String get() = "${fields.size} 个字段有冲突：其他设备同时修改了这些内容，请选择要保留的值"

    companion object {
        /** The banner for [conflicts], or `null` when there is none to show. */
        fun of(conflicts: List<Conflict>, schema: CardSchema): ConflictBannerState? =
            conflicts.takeIf { it.isNotEmpty() }?.let { list ->
                ConflictBannerState(
                    list.map { c ->
                        ConflictField(
                            path = c.path,
                            label = schema.labelOf(c.path),
                            choices = c.values.map {
                                ConflictChoice(it.value, schema.display(c.path, it.value), it.rep, it.device, it.time, it.shown)
                            },
                        )
                    },
                )
            }
    }
}
