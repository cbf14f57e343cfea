package fieldbook.demo

import fieldbook.FieldSpec
import fieldbook.FieldType

/** Which on-screen control edits a field. */
enum class Control { TEXT, MULTILINE, INTEGER, DECIMAL, SIGNED_DECIMAL, DATE, DATE_TIME, SWITCH, PICKER }

/**
 * How to edit a field, by its [FieldType]: the control and keyboard, a placeholder that
 * shows the format the library parses, and a picker's options. Only a hint: the library
 * checks every value, and its refusal is shown under the field.
 */
data class FieldInput(val control: Control, val placeholder: String, val options: List<ChoiceOption> = emptyList())

fun inputFor(spec: FieldSpec): FieldInput = when (spec.kind) {
    FieldType.TEXT -> FieldInput(Control.TEXT, "")
    FieldType.LONG_TEXT -> FieldInput(Control.MULTILINE, "")
    FieldType.INTEGER -> FieldInput(Control.INTEGER, "整数")
    FieldType.COUNT -> FieldInput(Control.INTEGER, "0")
    FieldType.MONEY -> FieldInput(Control.DECIMAL, "元，例如 80000.00")
    FieldType.DATE -> FieldInput(Control.DATE, "2026-12-01")
    FieldType.TIMESTAMP -> FieldInput(Control.DATE_TIME, "2026-12-01T09:30:00+08:00")
    FieldType.LATITUDE -> FieldInput(Control.SIGNED_DECIMAL, "30.2741")
    FieldType.LONGITUDE -> FieldInput(Control.SIGNED_DECIMAL, "120.1551")
    FieldType.DAY_OF_MONTH -> FieldInput(Control.INTEGER, "1–31")
    FieldType.BOOL -> FieldInput(Control.SWITCH, "", listOf(ChoiceOption("true", "是"), ChoiceOption("false", "否")))
    FieldType.CHOICE -> FieldInput(Control.PICKER, "请选择", ChoiceOptions.forPath(spec.path).orEmpty())
}
