package fieldbook.demo

import fieldbook.FieldEdit
import fieldbook.FieldSpec
import fieldbook.FieldbookException
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update

/** What an editor writes. */
sealed interface EditTarget {
    /** A new customer card (新建客户). */
    data object NewCard : EditTarget

    /** The card-level fields of an existing card. */
    data class Card(val cardId: String) : EditTarget

    /** A new contact, to-do or opportunity on a card (`contacts`, `todos`, `opportunities`). */
    data class NewItem(val cardId: String, val collection: String) : EditTarget
}

/** One field in an editor: what it was, what the rep typed, and the library's refusal. */
data class EditorField(
    val spec: FieldSpec,
    /** The path written (`basic.phone`), or the item's field key (`mobile`). */
    val target: String,
    val input: FieldInput,
    val original: String,
    val draft: String,
    val error: String? = null,
) {
    val changed: Boolean get() = draft != original
}

data class EditorSection(val label: String, val fields: List<EditorField>)

data class EditorState(
    val loading: Boolean = true,
    val fields: List<EditorField> = emptyList(),
    val saving: Boolean = false,
    /** The id written: the card's (new or edited) or the new item's. */
    val savedId: String? = null,
    val message: UiMessage? = null,
) {
    val sections: List<EditorSection>
        get() = fields.groupBy { it.spec.sectionLabel }.map { (label, fs) -> EditorSection(label, fs) }
    val hasChanges: Boolean get() = fields.any { it.changed }
}

/**
 * An editor built from `cardSchema()`: one control per field by its type
 * ([inputFor]), saving only the fields the rep changed as [FieldEdit]s, in one change
 * (all or nothing). The library validates; a refused value is shown under its field and
 * nothing is written.
 */
class EditorViewModel(
    private val session: FieldbookSession,
    val target: EditTarget,
) {
    private val _state = MutableStateFlow(EditorState())
    val state: StateFlow<EditorState> = _state.asStateFlow()

    /** Reads the current values (for an existing card) and lays out the fields. */
    suspend fun load() {
        val schema = session.schema
        try {
            val fields = when (target) {
                EditTarget.NewCard -> schema.cardFields.map { field(it, it.path, "") }
                is EditTarget.Card -> {
                    val card = session.read { card(target.cardId) }
                    val values = card.sections.flatMap { it.fields }.associate { it.path to it.value } +
                        mapOf("territory" to card.territory.orEmpty(), "notes" to card.notes)
                    schema.cardFields.map { field(it, it.path, values[it.path].orEmpty()) }
                }
                is EditTarget.NewItem -> schema.itemFields(target.collection).map { field(it, it.key, "") }
            }
            _state.value = EditorState(loading = false, fields = fields)
        } catch (e: CancellationException) {
            throw e
        } catch (e: Exception) {
            _state.update { it.copy(loading = false, message = e.toUiMessage(schema)) }
        }
    }

    fun onChange(path: String, text: String) = _state.update { s ->
        s.copy(fields = s.fields.map { if (it.spec.path == path) it.copy(draft = text, error = null) else it }, savedId = null)
    }

    fun dismissMessage() = _state.update { it.copy(message = null) }

    /** Writes the changes; returns the id written, or `null` when refused (see the state). */
    suspend fun save(): String? {
        val fields = _state.value.fields
        _state.update { it.copy(saving = true, message = null) }
        return try {
            val id = when (target) {
                EditTarget.NewCard -> session.write { createCard(fields.filter { it.draft.isNotEmpty() }.map(::edit)) }
                is EditTarget.Card -> {
                    val edits = fields.filter { it.changed }.map(::edit)
                    if (edits.isNotEmpty()) session.write { updateCard(target.cardId, edits) }
                    target.cardId
                }
                is EditTarget.NewItem -> session.write {
                    addItem(target.cardId, target.collection, fields.filter { it.draft.isNotEmpty() }.map(::edit))
                }
            }
            // What was saved is the new baseline: a second save writes nothing again.
            _state.update { s -> s.copy(saving = false, savedId = id, fields = s.fields.map { it.copy(original = it.draft) }) }
            id
        } catch (e: CancellationException) {
            throw e
        } catch (e: Exception) {
            val message = e.toUiMessage(session.schema)
            // The library names the field for card-level paths; for a new item's field
            // (a contact without a name) it names none, and the message stays general.
            val at = (e as? FieldbookException.InvalidInput)?.field?.let { session.schema.specOf(it)?.path }
            _state.update { s ->
                s.copy(
                    saving = false,
                    message = message,
                    fields = s.fields.map { if (it.spec.path == at) it.copy(error = message.text) else it },
                )
            }
            null
        }
    }

    private fun field(spec: FieldSpec, target: String, value: String) = EditorField(spec, target, inputFor(spec), value, value)

    private fun edit(f: EditorField) = FieldEdit(f.target, f.draft)
}
