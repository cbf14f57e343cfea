package fieldbook.demo

import fieldbook.CardRow
import fieldbook.ListQuery
import fieldbook.SortOrder
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.FlowPreview
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.collectLatest
import kotlinx.coroutines.flow.combine
import kotlinx.coroutines.flow.debounce
import kotlinx.coroutines.flow.distinctUntilChanged
import kotlinx.coroutines.flow.map
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch

/** What the list shows besides the search text. */
data class ListFilter(
    val conflictedOnly: Boolean = false,
    val territory: String? = null,
    val sort: SortOrder = SortOrder.NAME,
)

data class CardListState(
    /** The text as typed, shown in the search box at once. */
    val query: String = "",
    val filter: ListFilter = ListFilter(),
    /** The rows for [shownQuery] (which lags [query] by the debounce). */
    val rows: List<CardRow> = emptyList(),
    val shownQuery: String? = null,
    val loading: Boolean = true,
    val message: UiMessage? = null,
)

/**
 * The card list with its search box (客户列表).
 *
 * Typing is debounced so a search runs when the rep pauses, not on every character
 * (an IME commits many intermediate strings while composing Chinese); clearing the box
 * shows the list at once. A blank query lists by [ListFilter]; text alone goes to
 * `search` (first cards by name), text with a filter to `list` with the text. The rows
 * reload whenever the store changes ([FieldbookSession.revision]).
 */
@OptIn(FlowPreview::class)
class CardListViewModel(
    private val session: FieldbookSession,
    scope: CoroutineScope,
    debounceMillis: Long = 300,
    private val pageSize: UInt = 100u,
) {
    private val query = MutableStateFlow("")
    private val filter = MutableStateFlow(ListFilter())
    private val _state = MutableStateFlow(CardListState())
    val state: StateFlow<CardListState> = _state.asStateFlow()

    init {
        val settledQuery = query
            .map { it.trim() }
            .distinctUntilChanged()
            .debounce { if (it.isEmpty()) 0L else debounceMillis }
        scope.launch {
            combine(settledQuery, filter, session.revision) { q, f, _ -> q to f }
                .collectLatest { (q, f) -> load(q, f) }
        }
    }

    fun onQueryChange(text: String) {
        query.value = text
        _state.update { it.copy(query = text) }
    }

    fun onFilterChange(newFilter: ListFilter) {
        filter.value = newFilter
        _state.update { it.copy(filter = newFilter) }
    }

    fun dismissMessage() = _state.update { it.copy(message = null) }

    private suspend fun load(text: String, f: ListFilter) {
        _state.update { it.copy(loading = true) }
        // `search` ranks by name only, so any filter or other order goes through `list`.
        val plainSearch = text.isNotEmpty() && f == ListFilter()
        try {
            val rows = session.read {
                if (plainSearch) {
                    search(text, pageSize)
                } else {
                    list(
                        ListQuery(
                            territory = f.territory,
                            text = text.ifEmpty { null },
                            conflicted = f.conflictedOnly,
                            sort = f.sort,
                            limit = pageSize,
                        ),
                    )
                }
            }
            _state.update { it.copy(rows = rows, shownQuery = text, loading = false, message = null) }
        } catch (e: CancellationException) {
            throw e
        } catch (e: Exception) {
            _state.update { it.copy(loading = false, message = e.toUiMessage(session.schema)) }
        }
    }
}
