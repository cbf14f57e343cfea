package fieldbook.demo

import fieldbook.FieldSpec
import fieldbook.FieldType
import fieldbook.cardSchema

/**
 * The card schema from the library (`cardSchema()`), indexed for screens: editors are
 * built from it, and paths in history, conflicts and errors are shown by its labels.
 */
class CardSchema(val fields: List<FieldSpec>) {
    private val byPath = fields.associateBy { it.path }

    /** Card-level fields (`territory`, `notes`, `basic.phone` …), in schema order. */
    val cardFields: List<FieldSpec> = fields.filter { '*' !in it.path }

    /** The fields of an item of [collection] (`contacts.*.mobile` …). */
    fun itemFields(collection: String): List<FieldSpec> = fields.filter { it.path.startsWith("$collection.*.") }

    /**
     * The spec of a concrete path: `basic.phone`, an item's `contacts.<id>.mobile`, or
     * the `contacts.name` an error names for an item that does not exist yet.
     */
    fun specOf(path: String): FieldSpec? {
        byPath[path]?.let { return it }
        val parts = path.split('.')
        val generic = when (parts.size) {
            3 -> "${parts[0]}.*.${parts[2]}"
            2 -> "${parts[0]}.*.${parts[1]}"
            else -> return null
        }
        return byPath[generic]
    }

    /** How a path reads for people: `电话`, or `联系人·手机` for an item's field. */
    fun labelOf(path: String): String {
        val spec = specOf(path) ?: return path
        return if ('*' in spec.path) "${spec.sectionLabel}·${spec.label}" else spec.label
    }

    /**
     * What a change touched, for a history row: a card-level field by its label, any
     * part of an item (`visits.<id>.summary`, the item itself) by its collection's
     * label, a whole section by the section's.
     */
    fun areaOf(path: String): String {
        val root = path.substringBefore('.')
        val collection = fields.firstOrNull { it.path.startsWith("$root.*.") }
        return when {
            collection != null -> collection.sectionLabel
            '.' !in path -> sectionLabels[root] ?: OTHER_ROOTS[root] ?: root
            else -> specOf(path)?.label ?: OTHER_ROOTS[root] ?: path
        }
    }

    private val sectionLabels: Map<String, String> =
        fields.filter { it.path.count { c -> c == '.' } == 1 }.associate { it.path.substringBefore('.') to it.sectionLabel } +
            cardFields.filter { '.' !in it.path }.associate { it.path to it.label }

    /** How a stored value reads: a choice's Chinese label, a boolean as 是/否. */
    fun display(path: String, value: String): String {
        val spec = specOf(path) ?: return value
        return when (spec.kind) {
            FieldType.CHOICE -> ChoiceOptions.shown(spec.path, value)
            FieldType.BOOL -> when (value) {
                "true" -> "是"
                "false" -> "否"
                else -> value
            }
            else -> value
        }
    }

    companion object {
        /** Root keys the schema does not list as fields (monthly sales, tags). */
        private val OTHER_ROOTS = mapOf("sales" to "月度销售", "tags" to "标签")

        fun fromLibrary(): CardSchema = CardSchema(cardSchema())
    }
}

/** The field's own key, the last part of its path (`mobile` of `contacts.*.mobile`). */
val FieldSpec.key: String get() = path.substringAfterLast('.')
