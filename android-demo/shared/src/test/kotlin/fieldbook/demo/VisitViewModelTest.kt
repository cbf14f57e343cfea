package fieldbook.demo

import fieldbook.ListQuery
import kotlinx.coroutines.awaitCancellation
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import java.util.Locale

/**
 * Visits logged through the view model. The position comes from a plain
 * [LocationSource] written here: it stands for the phone's GPS, which cannot run on
 * this machine; the store, the library and the server are real.
 */
class VisitViewModelTest {
    private lateinit var phones: DemoPhones

    @BeforeEach
    fun start() {
        phones = DemoPhones()
    }

    @AfterEach
    fun stop() = phones.close()

    private fun FieldbookSession.visit(cardId: String, visitId: String) =
        book.card(cardId).collections.first { it.key == "visits" }.items.single { it.id == visitId }.fields
            .associate { it.path.substringAfterLast('.') to it }

    @Test
    fun `a visit is logged with the place where the rep stood, whatever the phone's locale`() = runBlocking {
        val session = phones.synced("visit", "zhangwei")
        val id = session.book.list(ListQuery(limit = 1u)).single().id
        val visitsBefore = session.book.card(id).collections.first { it.key == "visits" }.items.size
        val westLake = LocationSource { LocationResult.Fixed(GeoFix(30.2741, 120.1551, 12f)) }
        val defaultLocale = Locale.getDefault()
        // A German phone writes decimals with a comma; the visit must still carry a
        // position the library parses.
        Locale.setDefault(Locale.GERMANY)
        try {
            val vm = VisitViewModel(session, id, westLake)
            vm.locate()
            assertEquals(VisitLocation.Fixed(GeoFix(30.2741, 120.1551, 12f)), vm.state.value.location)
            vm.update { it.copy(kind = "visit", place = "西湖区文三路", summary = "谈了年底促销，同意先试销两箱", outcome = "同意试销", nextStep = "下周送样品", nextVisit = "2026-12-08") }
            val visitId = vm.save()!!
            assertEquals(visitId, vm.state.value.savedVisitId)
            assertEquals("", vm.state.value.summary, "the form is cleared for the next visit")

            val fields = session.visit(id, visitId)
            assertEquals(30.2741, fields.getValue("lat").value.toDouble(), 1e-6)
            assertEquals(120.1551, fields.getValue("lon").value.toDouble(), 1e-6)
            assertEquals("拜访", fields.getValue("kind").display)
            assertEquals("西湖区文三路", fields.getValue("place").value)
            assertEquals("谈了年底促销，同意先试销两箱", fields.getValue("summary").value)
            assertEquals("2026-12-08", fields.getValue("next_visit").value)
            assertEquals("zhangwei", fields.getValue("rep").value, "the visit is the device's rep's")
            assertEquals(visitsBefore + 1, session.book.card(id).collections.first { it.key == "visits" }.items.size)
        } finally {
            Locale.setDefault(defaultLocale)
        }
    }

    @Test
    fun `without a position the visit is saved without one, and a bad date is refused`() = runBlocking {
        val session = phones.synced("no-gps", "zhangwei")
        val id = session.book.list(ListQuery(limit = 1u)).single().id
        val denied = VisitViewModel(session, id, { LocationResult.Denied })
        denied.locate()
        assertEquals(VisitLocation.Missing("未授予定位权限，拜访将不带位置保存"), denied.state.value.location)
        denied.update { it.copy(kind = "call", summary = "电话确认了送货时间") }
        val visitId = denied.save()!!
        val fields = session.visit(id, visitId)
        assertTrue("lat" !in fields && "lon" !in fields)
        assertEquals("电话", fields.getValue("kind").display)

        // A source that never answers (no fix indoors) times out into "unavailable".
        val silent = VisitViewModel(session, id, { awaitCancellation() }, locationTimeoutMillis = 50)
        silent.locate()
        assertEquals(VisitLocation.Missing("暂时无法定位，拜访将不带位置保存"), silent.state.value.location)

        val before = session.book.card(id).collections.first { it.key == "visits" }.items.size
        silent.update { it.copy(summary = "约了下次", nextVisit = "下周三") }
        assertNull(silent.save())
        assertEquals(MessageKind.INPUT, silent.state.value.message!!.kind)
        assertEquals("约了下次", silent.state.value.summary, "the rep's text is kept to correct the date")
        assertEquals(before, session.book.card(id).collections.first { it.key == "visits" }.items.size, "nothing was added")
    }
}
