package fieldbook

import java.nio.file.Files
import java.nio.file.Path
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows

/**
 * The pipeline and the activity report through the generated bindings, offline: an
 * opportunity moved from first contact through negotiation to a contract, a visit and a
 * month of sales, as core's history derives them on the phone.
 */
class ReportsTest {
    private lateinit var dir: Path

    @BeforeEach
    fun start() {
        dir = Files.createTempDirectory("fieldbook-reports")
    }

    private fun edit(path: String, value: String) = FieldEdit(path, value)

    @Test
    fun `the phone reports its pipeline and activity from the cards' history`() {
        val phone = Fieldbook.open(dir.resolve("reports.db").toString(), null)
        phone.initRep("zhangwei")
        val id = phone.createCard(listOf(edit("basic.name", "杭州西湖食品批发部"), edit("territory", "杭州")))
        val opp = phone.addItem(
            id,
            "opportunities",
            listOf(edit("title", "调味品全线"), edit("stage", "first_contact"), edit("amount", "60000")),
        )
        phone.updateCard(id, listOf(edit("opportunities.$opp.stage", "商务谈判")))
        phone.updateCard(id, listOf(edit("opportunities.$opp.stage", "contract")))
        phone.logVisit(id, listOf(edit("summary", "签合同")), null)
        phone.updateCard(id, listOf(edit("sales.2026-11", "8000")))

        val pipeline = phone.pipeline(null, 480)
        assertEquals(1u, pipeline.total.opportunities)
        assertEquals("24000.00", pipeline.total.weighted, "¥60,000 at contract's 40%")
        val contract = pipeline.total.byStage.first { it.stage == "contract" }
        assertEquals("签订合同", contract.label)
        assertEquals(listOf("first_contact", "negotiation", "contract"), pipeline.timeInStage.map { it.stage })
        assertEquals(1u, pipeline.timeInStage.last().openSpells)
        assertEquals(listOf("zhangwei"), pipeline.byRep.map { it.key })
        assertTrue(pipeline.stalled.isEmpty())

        val activity = phone.activity(ReportPeriod.MONTH, null, null, 480)
        assertEquals(ReportPeriod.MONTH, activity.period)
        val totals = activity.reps.single().totals
        assertEquals(
            listOf(1uL, 1uL, 2uL, 1uL, 1uL, 1uL, 6uL),
            listOf(totals.newCustomers, totals.visits, totals.opportunitiesMoved, totals.contracts, totals.orders, totals.cardsUpdated, totals.changes),
        )

        val reversed = assertThrows<FieldbookException.InvalidInput> {
            phone.activity(ReportPeriod.DAY, "2026-12-02", "2026-12-01", 480)
        }
        assertEquals("input.invalid_value", reversed.code)
        assertEquals("input.invalid_value", assertThrows<FieldbookException.InvalidInput> { phone.pipeline("2026-13-01", null) }.code)
        phone.close()
    }
}
