package fieldbook.demo

import fieldbook.FieldEdit
import fieldbook.Fieldbook
import kotlinx.coroutines.ExperimentalCoroutinesApi
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.launch
import kotlinx.coroutines.test.StandardTestDispatcher
import kotlinx.coroutines.test.advanceTimeBy
import kotlinx.coroutines.test.runCurrent
import kotlinx.coroutines.test.runTest
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test

/**
 * The list and its debounced search, on a test dispatcher: the library answers for
 * real, the debounce runs in virtual time, so "has the search run yet" is decided by the
 * scheduler, never by a wall clock. The view models run in `backgroundScope`, which
 * `advanceUntilIdle` leaves alone; `runCurrent` and `advanceTimeBy` run it.
 */
@OptIn(ExperimentalCoroutinesApi::class)
class CardListViewModelTest {
    private lateinit var phones: DemoPhones
    private lateinit var book: Fieldbook

    /**
     * The store is enrolled and synced before the test's virtual time starts: a sync
     * resumes from the library's own thread, and the test scheduler should own every
     * step the assertions count on.
     */
    @BeforeEach
    fun start() {
        phones = DemoPhones()
        book = runBlocking { phones.synced("list", "zhangwei").book }
    }

    @AfterEach
    fun stop() = phones.close()

    @Test
    fun `the list shows the territory and a search runs once typing pauses`() = runTest {
        val session = FieldbookSession(book, DemoDispatchers(StandardTestDispatcher(testScheduler)))
        val teaHouse = session.book.createCard(listOf(FieldEdit("basic.name", "富春江边茶庄"), FieldEdit("territory", "east")))
        val list = CardListViewModel(session, backgroundScope, debounceMillis = 300)
        runCurrent()
        assertEquals(21, list.state.value.rows.size, "the territory's 20 cards and the new one")
        assertFalse(list.state.value.loading)

        list.onQueryChange("富")
        advanceTimeBy(200)
        list.onQueryChange("富春")
        assertEquals("富春", list.state.value.query, "the box shows what was typed at once")
        advanceTimeBy(299)
        runCurrent()
        assertEquals(21, list.state.value.rows.size, "no search while the rep is still typing")
        assertEquals("", list.state.value.shownQuery)
        advanceTimeBy(2)
        runCurrent()
        assertEquals("富春", list.state.value.shownQuery)
        assertEquals(listOf(teaHouse), list.state.value.rows.map { it.id }, "a two-character Chinese search")

        list.onQueryChange("")
        runCurrent()
        assertEquals(21, list.state.value.rows.size, "clearing the box lists everything again without waiting")

        list.onQueryChange("没有这个客户")
        advanceTimeBy(301)
        runCurrent()
        assertEquals("没有这个客户", list.state.value.shownQuery)
        assertTrue(list.state.value.rows.isEmpty())
        assertEquals(null, list.state.value.message, "no match is an empty list, not an error")
    }

    @Test
    fun `the list follows the store, and a filter goes through list`() = runTest {
        val session = FieldbookSession(book, DemoDispatchers(StandardTestDispatcher(testScheduler)))
        val list = CardListViewModel(session, backgroundScope)
        runCurrent()
        assertEquals(20, list.state.value.rows.size)

        // A card created on another screen (through the session) shows without a refresh.
        val editor = EditorViewModel(session, EditTarget.NewCard)
        editor.load()
        editor.onChange("basic.name", "宁波海曙五金")
        editor.onChange("territory", "east")
        val id = editor.save()
        runCurrent()
        assertEquals(21, list.state.value.rows.size)
        assertTrue(list.state.value.rows.any { it.id == id && it.name == "宁波海曙五金" })

        list.onFilterChange(ListFilter(conflictedOnly = true))
        runCurrent()
        assertTrue(list.state.value.rows.isEmpty(), "no card is in conflict")
        list.onFilterChange(ListFilter(territory = "east"))
        list.onQueryChange("海曙")
        advanceTimeBy(301)
        runCurrent()
        assertEquals(listOf(id), list.state.value.rows.map { it.id }, "text with a filter")
    }
}
