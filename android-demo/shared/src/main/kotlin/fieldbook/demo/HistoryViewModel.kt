package fieldbook.demo

import fieldbook.HistoryEntry
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import java.time.Instant

/** One change of the card: who, on which device, when, what it touched (by label). */
data class HistoryRow(
    val hash: String,
    val who: String,
    val device: String,
    val time: Instant?,
    val fieldLabels: List<String>,
    /** The paths changed, to open a field's own history. */
    val paths: List<String>,
)

/** One value a field held, and who left it. */
data class FieldHistoryRow(val who: String, val device: String, val time: Instant?, val value: String)

data class HistoryState(
    val loading: Boolean = true,
    val rows: List<HistoryRow> = emptyList(),
    /** The field whose history is open, and its label. */
    val fieldPath: String? = null,
    val fieldLabel: String? = null,
    val fieldRows: List<FieldHistoryRow> = emptyList(),
    val message: UiMessage? = null,
)

/**
 * A card's dossier (客户档案): every change, attributed to its rep and device, newest
 * first, so a successor sees who said what and when; and a field's own history, the
 * values it held in turn.
 */
class HistoryViewModel(
    private val session: FieldbookSession,
    val cardId: String,
) {
    private val _state = MutableStateFlow(HistoryState())
    val state: StateFlow<HistoryState> = _state.asStateFlow()

    suspend fun load() = attempt {
        val entries = session.read { history(cardId) }
        _state.update { it.copy(loading = false, rows = entries.asReversed().map(::row)) }
    }

    /** Opens the history of the field at [path] (`basic.phone`, `visits.<id>.summary`). */
    suspend fun openField(path: String) = attempt {
        val schema = session.schema
        val changes = session.read { fieldHistory(cardId, path) }
        _state.update {
            it.copy(
                fieldPath = path,
                fieldLabel = schema.labelOf(path),
                fieldRows = changes.asReversed().map { c ->
                    FieldHistoryRow(who(c.entry), c.entry.device, c.entry.time, c.value?.let { v -> schema.display(path, v) } ?: "（已清空）")
                },
            )
        }
    }

    fun dismissMessage() = _state.update { it.copy(message = null) }

    fun closeField() = _state.update { it.copy(fieldPath = null, fieldLabel = null, fieldRows = emptyList()) }

    private fun row(e: HistoryEntry): HistoryRow {
        val schema = session.schema
        return HistoryRow(e.hash, who(e), e.device, e.time, e.fields.map(schema::areaOf).distinct(), e.fields)
    }

    private fun who(e: HistoryEntry) = e.rep ?: "（未知）"

    private suspend fun attempt(block: suspend () -> Unit) {
        try {
            block()
        } catch (e: CancellationException) {
            throw e
        } catch (e: Exception) {
            _state.update { it.copy(loading = false, message = e.toUiMessage(session.schema)) }
        }
    }
}
