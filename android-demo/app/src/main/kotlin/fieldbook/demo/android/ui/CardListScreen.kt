package fieldbook.demo.android.ui

import androidx.compose.foundation.clickable
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.ExperimentalMaterial3Api
import androidx.compose.material3.FilterChip
import androidx.compose.material3.FloatingActionButton
import androidx.compose.material3.HorizontalDivider
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Text
import androidx.compose.material3.TopAppBar
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import fieldbook.CardRow
import fieldbook.demo.CardListViewModel
import fieldbook.demo.SyncViewModel

/** 客户列表: the search box, the conflict filter, the rows; sync on top. */
@OptIn(ExperimentalMaterial3Api::class)
@Composable
fun CardListScreen(
    list: CardListViewModel,
    sync: SyncViewModel,
    onOpen: (String) -> Unit,
    onNew: () -> Unit,
) {
    val state by list.state.collectAsStateWithLifecycle()
    Scaffold(
        topBar = { TopAppBar(title = { Text("我的客户") }) },
        floatingActionButton = { FloatingActionButton(onClick = onNew) { Text("新建") } },
    ) { padding ->
        Column(Modifier.padding(padding).fillMaxSize()) {
            SyncBar(sync)
            OutlinedTextField(
                value = state.query,
                onValueChange = list::onQueryChange,
                label = { Text("搜索客户名称、电话") },
                singleLine = true,
                modifier = Modifier.fillMaxWidth().padding(horizontal = 16.dp),
            )
            Row(Modifier.padding(horizontal = 16.dp)) {
                FilterChip(
                    selected = state.filter.conflictedOnly,
                    onClick = { list.onFilterChange(state.filter.copy(conflictedOnly = !state.filter.conflictedOnly)) },
                    label = { Text("只看有冲突的") },
                )
            }
            state.message?.let { MessageLine(it, onDismiss = list::dismissMessage) }
            if (!state.loading && state.rows.isEmpty()) {
                Text(
                    if (state.shownQuery.isNullOrEmpty()) "还没有客户卡片，同步后即可看到本区域的客户" else "没有找到“${state.shownQuery}”",
                    modifier = Modifier.padding(16.dp),
                )
            }
            LazyColumn(Modifier.fillMaxSize()) {
                items(state.rows, key = { it.id }) { row ->
                    CardRowItem(row, onClick = { onOpen(row.id) })
                    HorizontalDivider()
                }
            }
        }
    }
}

@Composable
private fun CardRowItem(row: CardRow, onClick: () -> Unit) {
    Column(Modifier.fillMaxWidth().clickable(onClick = onClick).padding(horizontal = 16.dp, vertical = 10.dp)) {
        Row {
            Text(row.name, style = MaterialTheme.typography.titleMedium, modifier = Modifier.weight(1f))
            row.`class`?.let { Text("${it}类", style = MaterialTheme.typography.labelLarge) }
        }
        val details = listOfNotNull(row.city, row.phone, row.nextDue?.let { "下次拜访 $it" }).joinToString(" · ")
        if (details.isNotEmpty()) Text(details, style = MaterialTheme.typography.bodySmall)
        if (row.conflicts > 0u) {
            Text("${row.conflicts} 个字段有冲突", color = Color(0xFFB3261E), style = MaterialTheme.typography.bodySmall)
        }
    }
}
