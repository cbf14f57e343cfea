package fieldbook.demo

import fieldbook.CardDetail
import fieldbook.Field
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.collectLatest
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch

/** A section of the card as its screen shows it: only fields with a value. */
data class SectionUi(val key: String, val label: String, val fields: List<Field>)

/** One item of a collection (a contact, a visit …) with a one-line title. */
data class ItemUi(val id: String, val title: String, val fields: List<Field>)

data class CollectionUi(val key: String, val label: String, val items: List<ItemUi>)

data class CardDetailState(
    val loading: Boolean = true,
    val card: CardDetail? = null,
    val sections: List<SectionUi> = emptyList(),
    val collections: List<CollectionUi> = emptyList(),
    val banner: ConflictBannerState? = null,
    val message: UiMessage? = null,
)

/**
 * A customer's card by section (客户资料卡), read before a visit: sections with values,
 * contacts, the visit log, to-dos and opportunities, and the conflict banner. Reloads
 * whenever the store changes, so a sync that brings a colleague's edit, or a conflict,
 * shows without leaving the screen.
 */
class CardDetailViewModel(
    private val session: FieldbookSession,
    val cardId: String,
    scope: CoroutineScope,
) {
    private val _state = MutableStateFlow(CardDetailState())
    val state: StateFlow<CardDetailState> = _state.asStateFlow()

    init {
        scope.launch { session.revision.collectLatest { load() } }
    }

    /**
     * Keep [value] for the conflicted field at [path] (one of the banner's choices, or a
     * value typed anew). Returns whether it was written; the banner clears on the reload.
     */
    suspend fun resolve(path: String, value: String): Boolean =
        try {
            session.write { resolveConflict(cardId, path, value) }
            true
        } catch (e: CancellationException) {
            throw e
        } catch (e: Exception) {
            _state.update { it.copy(message = e.toUiMessage(session.schema)) }
            false
        }

    fun dismissMessage() = _state.update { it.copy(message = null) }

    private suspend fun load() {
        try {
            val card = session.read { card(cardId) }
            val schema = session.schema
            _state.value = CardDetailState(
                loading = false,
                card = card,
                sections = card.sections.filter { it.fields.isNotEmpty() }.map { SectionUi(it.key, it.label, it.fields) },
                collections = card.collections.map { c ->
                    CollectionUi(c.key, c.label, c.items.map { ItemUi(it.id, itemTitle(c.key, it.fields), it.fields) })
                },
                banner = ConflictBannerState.of(card.conflicts, schema),
            )
        } catch (e: CancellationException) {
            throw e
        } catch (e: Exception) {
            _state.update { it.copy(loading = false, message = e.toUiMessage(session.schema)) }
        }
    }
}

/** The field that names an item in a list row: a contact's name, a visit's summary … */
internal fun itemTitle(collection: String, fields: List<Field>): String {
    val key = when (collection) {
        "contacts" -> "name"
        "visits" -> "summary"
        else -> "title"
    }
    return fields.firstOrNull { it.path.endsWith(".$key") }?.display?.lineSequence()?.firstOrNull().orEmpty()
}
