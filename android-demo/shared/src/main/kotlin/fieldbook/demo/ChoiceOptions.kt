package fieldbook.demo

import fieldbook.cardSchema

/** One code of a choice field and its label, as a picker offers it. */
data class ChoiceOption(val code: String, val label: String)

/**
 * The options of the choice fields, from the card schema the library exports
 * (`FieldSpec.choices`): core's own table, so a picker can never offer a code the
 * library refuses or miss one it adds.
 */
object ChoiceOptions {
    /** Schema path (`opportunities.*.stage`) → its options. */
    private val bySchemaPath: Map<String, List<ChoiceOption>> by lazy {
        cardSchema()
            .filter { it.choices.isNotEmpty() }
            .associate { spec -> spec.path to spec.choices.map { ChoiceOption(it.code, it.label) } }
    }

    /** `opportunities.<id>.stage` → `opportunities.*.stage`; section paths unchanged. */
    private fun schemaPath(path: String): String {
        val parts = path.split('.')
        return if (parts.size == 3) "${parts[0]}.*.${parts[2]}" else path
    }

    /**
     * How the library shows a stored code: its label, except a class, which reads as
     * its letter (core's `rules::choice_label`).
     */
    fun shown(path: String, code: String): String {
        val key = path.substringAfterLast('.')
        if (key == "abc" || key == "prospect_class") return code
        return forPath(path)?.firstOrNull { it.code == code }?.label ?: code
    }

    /** The options of the field at a path (`classification.stage`, `opportunities.*.stage`). */
    fun forPath(path: String): List<ChoiceOption>? = bySchemaPath[schemaPath(path)]
}
